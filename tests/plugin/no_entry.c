/* A shared object that is no portd plugin: it does not define portd_plugin_entry(). */
#include <portd/handler.h>

PORTD_EXPORT int portd_something_else(void);
PORTD_EXPORT int portd_something_else(void) { return 42; }
