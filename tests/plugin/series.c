/* A C plugin that drives the labelled series of ABI 1.2 (series_declare and the calls after
 * it) from UDP datagrams, for series_plugin_test.cc. One command per datagram, answered with
 * the status it got, as a decimal number:
 *   open VALUE      opens the series of label value VALUE (the rest of the datagram)
 *   add VALUE N     adds N to counter "requests" of VALUE's series (the last word is N)
 *   set VALUE X     sets gauge "level_seconds" of VALUE's series to X
 *   close VALUE     closes VALUE's series
 * Label "client", at most 2 values live per worker. Without the series functions (an older
 * portd) every command is answered "unavailable". */
#include <portd/handler.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8
#define MAX_VALUE 200

struct slot {
  char value[MAX_VALUE];
  size_t len;
  portd_series_t id;
};

struct instance {
  const portd_host_api* host;
  portd_worker* worker;
  int set;
  struct slot slots[SLOTS];
};

static const char* const counters[] = {"requests"};
static const char* const gauges[] = {"level_seconds"};

static void* create(const portd_host_api* host, portd_worker* worker, const void* config) {
  (void)config;
  struct instance* i = calloc(1, sizeof *i);
  if (i == NULL) {
    return NULL;
  }
  i->host = host;
  i->worker = worker;
  i->set = -1;
  if (PORTD_HOST_HAS(host, series_declare)) {
    i->set = host->series_declare(worker, "client", 2, counters, 1, gauges, 1);
    if (i->set < 0) {
      free(i);
      return NULL;
    }
  }
  return i;
}

static void destroy(void* instance) { free(instance); }

static struct slot* find(struct instance* i, const char* value, size_t len) {
  for (size_t k = 0; k < SLOTS; ++k) {
    if (i->slots[k].id != 0 && i->slots[k].len == len &&
        memcmp(i->slots[k].value, value, len) == 0) {
      return &i->slots[k];
    }
  }
  return NULL;
}

static int run(struct instance* i, const char* d, size_t len) {
  const portd_host_api* h = i->host;
  if (len > 5 && memcmp(d, "open ", 5) == 0) {
    struct slot* s = NULL;
    for (size_t k = 0; k < SLOTS && s == NULL; ++k) {
      s = i->slots[k].id == 0 ? &i->slots[k] : NULL;
    }
    if (s == NULL || len - 5 > MAX_VALUE) {
      return PORTD_ENOMEM;
    }
    int rc = h->series_open(i->worker, i->set, d + 5, len - 5, &s->id);
    if (rc == PORTD_OK) {
      memcpy(s->value, d + 5, len - 5);
      s->len = len - 5;
    } else {
      s->id = 0;
    }
    return rc;
  }
  if (len > 6 && memcmp(d, "close ", 6) == 0) {
    struct slot* s = find(i, d + 6, len - 6);
    if (s == NULL) {
      return PORTD_EINVAL;
    }
    int rc = h->series_close(i->worker, s->id);
    s->id = 0;
    return rc;
  }
  if (len > 4 && (memcmp(d, "add ", 4) == 0 || memcmp(d, "set ", 4) == 0)) {
    const char* space = d + len;
    while (space > d + 4 && space[-1] != ' ') {
      --space;
    }
    if (space <= d + 5) {
      return PORTD_EINVAL;
    }
    struct slot* s = find(i, d + 4, (size_t)(space - 1 - (d + 4)));
    if (s == NULL) {
      return PORTD_EINVAL;
    }
    char number[64];
    size_t n = (size_t)(d + len - space);
    if (n == 0 || n >= sizeof number) {
      return PORTD_EINVAL;
    }
    memcpy(number, space, n);
    number[n] = '\0';
    if (d[0] == 'a') {
      h->series_add(i->worker, s->id, 0, strtoull(number, NULL, 10));
    } else {
      h->series_set(i->worker, s->id, 0, strtod(number, NULL));
    }
    return PORTD_OK;
  }
  return PORTD_EINVAL;
}

static int on_datagram(void* instance, portd_dgram_t socket, const struct sockaddr* peer,
                       const void* data, size_t len) {
  struct instance* i = instance;
  char answer[32];
  if (i->set < 0) {
    snprintf(answer, sizeof answer, "unavailable");
  } else {
    snprintf(answer, sizeof answer, "%d", run(i, data, len));
  }
  return i->host->reply(socket, peer, answer, strlen(answer));
}

static const portd_handler_def handlers[] = {{
    PORTD_HANDLER_INIT,
    .name = "series",
    .description = "drives labelled series from datagrams",
    .protocols = PORTD_UDP,
    .create = create,
    .destroy = destroy,
    .on_datagram = on_datagram,
}};

static const portd_plugin plugin = {
    PORTD_PLUGIN_INIT,    .name = "series",   .version = "1.0.0",
    .handlers = handlers, .handler_count = 1,
};

const portd_plugin* portd_plugin_entry(void) { return &plugin; }
