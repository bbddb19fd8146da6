/* A plugin built for an ABI that this portd does not speak: loading it must fail, saying both
 * versions, before any of its handlers is looked at. */
#include <portd/handler.h>

#include <stddef.h>

static const portd_plugin plugin = {
    .abi_version = 999,
    .name = "bad-abi",
    .version = "0.0.1",
    .handlers = NULL,
    .handler_count = 0,
};

const portd_plugin *portd_plugin_entry(void) { return &plugin; }
