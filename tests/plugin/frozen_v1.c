/* A plugin built against the handler interface as it was frozen for ABI version 1: the header
 * in abi_v1/ is a copy that never changes, whatever daemon/include/portd/handler.h becomes. It
 * must keep loading and serving in every portd that speaks ABI version 1 (see "Compatibility"
 * in the header). It answers each line with "v1:" and the line. */
#include <portd/handler.h>
#include <string.h>

static const portd_host_api* g_host;

static void* create(const portd_host_api* host, portd_worker* worker, const void* config) {
  (void)worker;
  (void)config;
  g_host = host;
  static int instance;
  return &instance;
}

static int on_data(void* instance, portd_conn_t conn, const void* data, size_t len) {
  (void)instance;
  const char* p = data;
  const char* nl;
  while ((nl = memchr(p, '\n', len)) != NULL) {
    size_t line = (size_t)(nl - p) + 1;
    if (g_host->write(conn, "v1:", 3) < 0 || g_host->write(conn, p, line) < 0) {
      return -1;
    }
    p += line;
    len -= line;
  }
  /* A partial line: keep_input is part of ABI 1.0, but ask as a careful plugin does. */
  if (len > 0 && PORTD_HOST_HAS(g_host, keep_input)) {
    return g_host->keep_input(conn, len) == PORTD_OK ? 0 : -1;
  }
  return 0;
}

static const portd_handler_def handlers[] = {{
    PORTD_HANDLER_INIT,
    .name = "frozen",
    .description = "built against the frozen ABI 1 header",
    .protocols = PORTD_TCP,
    .create = create,
    .on_data = on_data,
}};

static const portd_plugin plugin = {
    PORTD_PLUGIN_INIT,    .name = "frozen-v1", .version = "1.0.0",
    .handlers = handlers, .handler_count = 1,
};

const portd_plugin* portd_plugin_entry(void) { return &plugin; }
