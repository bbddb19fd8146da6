/*
 * udp-reverse: a portd handler plugin in plain C, built on <portd/handler.h> alone.
 *
 * Answers each UDP datagram with its bytes in reverse order. Datagrams longer than
 * `max_bytes` are dropped, and so are datagrams from a well-known source port (below 1024):
 * a service such as echo (port 7) or chargen (19) would answer the reply, and the two would
 * bounce a packet between them forever.
 *
 * Shows: the plugin table, an option, the configure/create/destroy lifecycle, a datagram
 * callback, and named counters.
 */
#include <netinet/in.h>
#include <portd/handler.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_UDP_PAYLOAD 65507u

static const portd_option_def options[] = {
    {"max_bytes", PORTD_OPT_SIZE, "\"1KiB\"", "longest datagram answered; longer ones are dropped"},
};

/* One listener's configuration: built on the main thread, read-only afterwards. */
struct config {
  size_t max_bytes;
};

/* One per worker per listener; used only on that worker's thread, so it needs no lock. */
struct instance {
  const portd_host_api* host;
  portd_worker* worker;
  size_t max_bytes;
  int reversed; /* counter indexes */
  int refused;
  int too_long;
  char buffer[]; /* max_bytes */
};

static void* configure(const portd_host_api* host, const portd_options* o, char* error,
                       size_t error_len) {
  uint64_t max_bytes = 0;
  if (host->opt_size(o, "max_bytes", &max_bytes) != PORTD_OK) {
    snprintf(error, error_len, "cannot read option max_bytes");
    return NULL;
  }
  if (max_bytes < 1 || max_bytes > MAX_UDP_PAYLOAD) {
    snprintf(error, error_len, "max_bytes: must be between 1 and %u, not %llu", MAX_UDP_PAYLOAD,
             (unsigned long long)max_bytes);
    return NULL;
  }
  struct config* c = malloc(sizeof *c);
  if (c == NULL) {
    snprintf(error, error_len, "out of memory");
    return NULL;
  }
  c->max_bytes = (size_t)max_bytes;
  return c;
}

static void release_config(void* config) { free(config); }

static void* create(const portd_host_api* host, portd_worker* worker, const void* config) {
  const struct config* c = config;
  struct instance* i = malloc(sizeof *i + c->max_bytes);
  if (i == NULL) {
    return NULL;
  }
  i->host = host;
  i->worker = worker;
  i->max_bytes = c->max_bytes;
  i->reversed = host->counter(worker, "reversed");
  i->refused = host->counter(worker, "refused");
  i->too_long = host->counter(worker, "too_long");
  if (i->reversed < 0 || i->refused < 0 || i->too_long < 0) {
    free(i);
    return NULL;
  }
  return i;
}

static void destroy(void* instance) { free(instance); }

static unsigned source_port(const struct sockaddr* peer) {
  if (peer->sa_family == AF_INET) {
    return ntohs(((const struct sockaddr_in*)(const void*)peer)->sin_port);
  }
  if (peer->sa_family == AF_INET6) {
    return ntohs(((const struct sockaddr_in6*)(const void*)peer)->sin6_port);
  }
  return 0;
}

static int on_datagram(void* instance, portd_dgram_t socket, const struct sockaddr* peer,
                       const void* data, size_t len) {
  struct instance* i = instance;
  if (source_port(peer) < 1024) {
    i->host->counter_add(i->worker, i->refused, 1);
    return 0;
  }
  if (len > i->max_bytes) {
    i->host->counter_add(i->worker, i->too_long, 1);
    return 0;
  }
  const char* in = data;
  for (size_t k = 0; k < len; ++k) {
    i->buffer[k] = in[len - 1 - k];
  }
  /* reply() copies the bytes, so the buffer is free again for the next datagram. */
  if (i->host->reply(socket, peer, i->buffer, len) == PORTD_OK) {
    i->host->counter_add(i->worker, i->reversed, 1);
  }
  return 0;
}

static const portd_handler_def handlers[] = {{
    PORTD_HANDLER_INIT,
    .name = "reverse",
    .description = "answers each datagram with its bytes reversed",
    .protocols = PORTD_UDP,
    .options = options,
    .option_count = sizeof options / sizeof options[0],
    .configure = configure,
    .release_config = release_config,
    .create = create,
    .destroy = destroy,
    .on_datagram = on_datagram,
}};

static const portd_plugin plugin = {
    PORTD_PLUGIN_INIT,
    .name = "udp-reverse",
    .version = "1.0.0",
    .handlers = handlers,
    .handler_count = sizeof handlers / sizeof handlers[0],
};

const portd_plugin* portd_plugin_entry(void) { return &plugin; }
