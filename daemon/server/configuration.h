#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "handlers/registry.h"
#include "plugin/plugin_loader.h"

namespace portd::server {

// What the command line overrides in a configuration; a reload keeps applying them.
struct Overrides {
  int workers = -1;   // -1: as the file says
  std::string level;  // empty: as the file says
};

// A configuration ready to serve: the file's settings, its plugins loaded, every listener bound
// to its handler (see handlers::bind).
struct Loaded {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const handlers::Registry> registry;  // the built-ins plus the plugins' handlers
  std::vector<plugin::PluginInfo> plugins;
};

// Reads `path` (the embedded default when empty), loads its plugins into a copy of `builtins`,
// then, when `bind` is true, checks its listeners against the result. Throws
// config::ConfigError. The steps are separate so that parsing has no side effects and listing
// handlers needs no listener.
Loaded loadConfiguration(const std::string& path, const Overrides& overrides,
                         const handlers::Registry& builtins, bool bind = true);

}  // namespace portd::server
