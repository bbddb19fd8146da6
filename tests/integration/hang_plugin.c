/* A handler that blocks its worker: every read stalls the loop for as many milliseconds as
 * the listener's "hang" option says. Used only by the tests, to show that a stuck worker
 * makes /healthz fail and stops the systemd watchdog pings. Never do this in a handler. */
#include <portd/handler.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static void* configure(const portd_host_api* host, const portd_options* o, char* error,
                       size_t error_len) {
  (void)error;
  (void)error_len;
  static uint64_t ms;
  host->opt_duration_ms(o, "hang", &ms);
  return &ms;
}

struct instance {
  const portd_host_api* host;
  portd_worker* worker;
  int reads; /* a named counter, so the metrics tests see plugin counters */
  uint64_t ms;
};

static void* create(const portd_host_api* host, portd_worker* w, const void* config) {
  struct instance* i = malloc(sizeof *i);
  if (i == NULL) return NULL;
  i->host = host;
  i->worker = w;
  i->reads = host->counter(w, "reads");
  i->ms = *(const uint64_t*)config;
  return i;
}

static void destroy(void* instance) { free(instance); }

static int on_data(void* instance, portd_conn_t conn, const void* data, size_t len) {
  (void)conn;
  (void)data;
  (void)len;
  struct instance* i = instance;
  i->host->counter_add(i->worker, i->reads, 1);
  uint64_t ms = i->ms;
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
  return 0;
}

static const portd_option_def options[] = {
    {"hang", PORTD_OPT_DURATION, "\"2s\"", "how long each read blocks the worker"},
};

static const portd_handler_def handlers[] = {{
    PORTD_HANDLER_INIT,
    .name = "hang",
    .description = "blocks its worker on every read (tests only)",
    .protocols = PORTD_TCP,
    .options = options,
    .option_count = 1,
    .configure = configure,
    .create = create,
    .destroy = destroy,
    .on_data = on_data,
}};

PORTD_EXPORT const portd_plugin* portd_plugin_entry(void) {
  static const portd_plugin plugin = {PORTD_PLUGIN_INIT, .name = "hang", .version = "1",
                                      .handlers = handlers, .handler_count = 1};
  return &plugin;
}
