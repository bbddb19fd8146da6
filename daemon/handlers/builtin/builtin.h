#pragma once

#include "handlers/registry.h"

namespace portd::handlers {

// Registers every built-in handler: one line each, in builtin.cc. This folder sits above the
// handlers' own folders, which know nothing of each other or of the list.
void registerBuiltins(Registry& registry);

}  // namespace portd::handlers
