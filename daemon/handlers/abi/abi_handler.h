#pragma once

#include <portd/handler.h>

#include <memory>
#include <string>

#include "handlers/handler.h"

namespace portd::handlers::abi {

// Turns a C handler table into a registry entry. `library` keeps the plugin that holds the
// table's code loaded for as long as anything made from it lives (null for a built-in).
// Throws std::runtime_error when the table itself is malformed (no name, an option default
// that does not parse as its type, ...).
std::shared_ptr<HandlerFactory> makeFactory(const portd_handler_def& def,
                                            std::shared_ptr<const void> library = nullptr);

// The handler table as this portd reads it (fields the plugin's header lacks are NULL), or null
// when `factory` is not made from a C table.
const portd_handler_def* tableOf(const HandlerFactory& factory);

}  // namespace portd::handlers::abi
