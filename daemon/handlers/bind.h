#pragma once

#include <memory>

#include "config/config.h"
#include "handlers/registry.h"

namespace portd::handlers {

// Checks every listener of `config` against `registry` and fills in what the handler makes of
// it: the handler must exist and speak the listener's protocol, its options are read against
// the handler's schema, and the handler's configure() accepts them. At least one listener is
// required. Throws config::ConfigError pointing into the file. Runs on the main thread, before
// the configuration is shared.
void bind(config::Config& config, const Registry& registry);

// loadConfig + bind, for a configuration with no plugins (tests, benchmarks).
std::shared_ptr<const config::Config> loadAndBind(std::string_view text, const std::string& source,
                                                  const Registry& registry);

}  // namespace portd::handlers
