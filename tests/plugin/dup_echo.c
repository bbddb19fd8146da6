/* A plugin whose handler takes the name of a built-in one: loading it must fail. */
#include <portd/handler.h>
#include <stddef.h>

static int on_data(void* instance, portd_conn_t conn, const void* data, size_t len) {
  (void)instance;
  (void)conn;
  (void)data;
  (void)len;
  return 0;
}

static void* create(const portd_host_api* host, portd_worker* worker, const void* config) {
  (void)host;
  (void)worker;
  return (void*)config;
}

static void* configure(const portd_host_api* host, const portd_options* o, char* error,
                       size_t error_len) {
  (void)host;
  (void)o;
  (void)error;
  (void)error_len;
  static int config;
  return &config;
}

static const portd_handler_def handlers[] = {{
    PORTD_HANDLER_INIT,
    .name = "echo",
    .description = "a second echo",
    .protocols = PORTD_TCP,
    .configure = configure,
    .create = create,
    .on_data = on_data,
}};

static const portd_plugin plugin = {
    PORTD_PLUGIN_INIT,    .name = "dup-echo", .version = "0.0.1",
    .handlers = handlers, .handler_count = 1,
};

const portd_plugin* portd_plugin_entry(void) { return &plugin; }
