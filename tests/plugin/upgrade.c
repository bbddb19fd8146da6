/* Two builds of one plugin, made from this file with different definitions, for the tests of
 * upgrading a plugin in place: every read is answered with UPGRADE_ANSWER ("v1" or "v2"), so a
 * client can tell which build serves its connection. The second build also takes an option the
 * first does not know, `suffix`, added to its answer: a reload that sets it must be checked
 * against the new build's schema, not the old one's. */
#include <portd/handler.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef UPGRADE_ANSWER
#error "build with UPGRADE_ANSWER defined"
#endif

struct instance {
  const portd_host_api* host;
  const char* answer; /* the listener's config: lives until release_config */
};

static void* configure(const portd_host_api* host, const portd_options* o, char* error,
                       size_t error_len) {
  const char* suffix = "";
  size_t suffix_len = 0;
#ifdef UPGRADE_SUFFIX_OPTION
  if (host->opt_string(o, "suffix", &suffix, &suffix_len) != PORTD_OK) {
    snprintf(error, error_len, "cannot read option suffix");
    return NULL;
  }
#else
  (void)host;
  (void)o;
#endif
  size_t len = strlen(UPGRADE_ANSWER);
  char* answer = malloc(len + suffix_len + 1);
  if (answer == NULL) {
    snprintf(error, error_len, "out of memory");
    return NULL;
  }
  memcpy(answer, UPGRADE_ANSWER, len);
  memcpy(answer + len, suffix, suffix_len);
  answer[len + suffix_len] = '\0';
  return answer;
}

static void release_config(void* config) { free(config); }

static void* create(const portd_host_api* host, portd_worker* worker, const void* config) {
  (void)worker;
  struct instance* i = malloc(sizeof *i);
  if (i != NULL) {
    i->host = host;
    i->answer = config;
  }
  return i;
}

static void destroy(void* instance) { free(instance); }

static int on_data(void* instance, portd_conn_t conn, const void* data, size_t len) {
  (void)data;
  (void)len;
  const struct instance* i = instance;
  int64_t queued = i->host->write(conn, i->answer, strlen(i->answer));
  return queued < 0 ? (int)queued : 0;
}

#ifdef UPGRADE_SUFFIX_OPTION
static const portd_option_def options[] = {
    {"suffix", PORTD_OPT_STRING, "\"\"", "added to the answer"},
};
#define UPGRADE_OPTION_DEFS options
#define UPGRADE_OPTION_COUNT 1
#else
#define UPGRADE_OPTION_DEFS NULL
#define UPGRADE_OPTION_COUNT 0
#endif

static const portd_handler_def handlers[] = {{
    PORTD_HANDLER_INIT,
    .name = "upgrade",
    .description = "answers every read with the build it is",
    .protocols = PORTD_TCP,
    .options = UPGRADE_OPTION_DEFS,
    .option_count = UPGRADE_OPTION_COUNT,
    .configure = configure,
    .release_config = release_config,
    .create = create,
    .destroy = destroy,
    .on_data = on_data,
}};

static const portd_plugin plugin = {
    PORTD_PLUGIN_INIT,
    .name = "upgrade",
    .version = UPGRADE_VERSION,
    .handlers = handlers,
    .handler_count = 1,
};

const portd_plugin* portd_plugin_entry(void) { return &plugin; }
