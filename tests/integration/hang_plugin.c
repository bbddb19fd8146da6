/* A handler that blocks its worker: every read stalls the loop until the file named by the
 * listener's "hold" option is removed, or for the "hang" duration when there is none (which
 * also bounds a hold, so that a test that never releases its worker still ends). Used only by
 * the tests, to show that a stuck worker makes /healthz fail and stops the systemd watchdog
 * pings: a test holds the worker for exactly as long as its checks take, however slow the
 * machine, instead of racing a fixed duration. Never do this in a handler. */
#include <portd/handler.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct config {
  uint64_t ms;
  char* hold; /* NULL: block for `ms` */
};

static void* configure(const portd_host_api* host, const portd_options* o, char* error,
                       size_t error_len) {
  (void)error;
  (void)error_len;
  struct config* c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  host->opt_duration_ms(o, "hang", &c->ms);
  const char* hold = NULL;
  size_t len = 0;
  if (host->opt_string(o, "hold", &hold, &len) == PORTD_OK && len > 0) {
    c->hold = malloc(len + 1);
    if (c->hold == NULL) {
      free(c);
      return NULL;
    }
    memcpy(c->hold, hold, len);
    c->hold[len] = '\0';
  }
  return c;
}

static void release_config(void* config) {
  struct config* c = config;
  free(c->hold);
  free(c);
}

struct instance {
  const portd_host_api* host;
  portd_worker* worker;
  int reads; /* a named counter, so the metrics tests see plugin counters */
  const struct config* config;
};

static void* create(const portd_host_api* host, portd_worker* w, const void* config) {
  struct instance* i = malloc(sizeof *i);
  if (i == NULL) return NULL;
  i->host = host;
  i->worker = w;
  i->reads = host->counter(w, "reads");
  i->config = config;
  return i;
}

static void destroy(void* instance) { free(instance); }

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static int on_data(void* instance, portd_conn_t conn, const void* data, size_t len) {
  (void)conn;
  (void)data;
  (void)len;
  struct instance* i = instance;
  i->host->counter_add(i->worker, i->reads, 1);
  const struct config* c = i->config;
  if (c->hold == NULL) {
    sleep_ms(c->ms);
    return 0;
  }
  /* Polled every 10 ms: nothing waits for the exact moment the worker resumes (the tests wait
   * for its effects, pings or /healthz), so a few milliseconds of lag do not matter. */
  const uint64_t until = now_ms() + c->ms;
  while (access(c->hold, F_OK) == 0 && now_ms() < until) {
    sleep_ms(10);
  }
  return 0;
}

static const portd_option_def options[] = {
    {"hang", PORTD_OPT_DURATION, "\"2s\"", "how long each read blocks the worker, at most"},
    {"hold", PORTD_OPT_STRING, "\"\"", "a file: each read blocks the worker until it is gone"},
};

static const portd_handler_def handlers[] = {{
    PORTD_HANDLER_INIT,
    .name = "hang",
    .description = "blocks its worker on every read (tests only)",
    .protocols = PORTD_TCP,
    .options = options,
    .option_count = 2,
    .configure = configure,
    .release_config = release_config,
    .create = create,
    .destroy = destroy,
    .on_data = on_data,
}};

PORTD_EXPORT const portd_plugin* portd_plugin_entry(void) {
  static const portd_plugin plugin = {PORTD_PLUGIN_INIT, .name = "hang", .version = "1",
                                      .handlers = handlers, .handler_count = 1};
  return &plugin;
}
