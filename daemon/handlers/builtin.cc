#include "handlers/discard/discard.h"
#include "handlers/echo/echo.h"
#include "handlers/registry.h"

namespace portd::handlers {

// One line per built-in handler. An explicit list rather than static registrars, so that the
// linker cannot drop a handler nobody references.
void registerBuiltins(Registry& registry) {
  registry.addBuiltin(echo::definition());
  registry.addBuiltin(discard::definition());
}

}  // namespace portd::handlers
