#include "server/configuration.h"

#include "config/loader.h"
#include "handlers/bind.h"

namespace portd::server {

Loaded loadConfiguration(const std::string& path, const Overrides& overrides,
                         const handlers::Registry& builtins, bool bind) {
  std::shared_ptr<config::Config> config =
      path.empty() ? config::loadConfig(config::defaultConfigText(), config::kDefaultConfigSource)
                   : config::loadConfigFile(path);
  if (overrides.workers >= 0) {
    config->server.workers = static_cast<unsigned>(overrides.workers);
  }
  if (!overrides.level.empty()) {
    config->log.level = overrides.level;
  }
  auto registry = std::make_shared<handlers::Registry>(builtins);
  Loaded loaded;
  loaded.plugins = plugin::loadPlugins(*config, *registry);
  if (bind) {
    handlers::bind(*config, *registry);
  }
  loaded.config = std::move(config);
  loaded.registry = std::move(registry);
  return loaded;
}

}  // namespace portd::server
