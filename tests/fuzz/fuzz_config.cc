// Fuzz target for the configuration loader: the input is the text of a configuration file.
// config::loadConfig() must either return a configuration or throw config::ConfigError (which
// portd reports with the file, line, column and key); any other exception escapes and aborts, as
// do crashes, memory errors and undefined behaviour. A configuration that loads is then bound to
// the built-in handlers, as `portd check` and the daemon do, where again only ConfigError may
// come out.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/error.h"
#include "config/loader.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"
#include "handlers/registry.h"

namespace {

const portd::handlers::Registry& builtins() {
  static const portd::handlers::Registry registry = [] {
    portd::handlers::Registry r;
    portd::handlers::registerBuiltins(r);
    return r;
  }();
  return registry;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::shared_ptr<portd::config::Config> config;
  try {
    config = portd::config::loadConfig(text, "fuzz.toml");
  } catch (const portd::config::ConfigError&) {
    return 0;
  }
  try {
    portd::handlers::bind(*config, builtins());
  } catch (const portd::config::ConfigError&) {
  }
  return 0;
}
