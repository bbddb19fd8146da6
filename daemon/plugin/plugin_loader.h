#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"
#include "handlers/registry.h"

namespace portd::plugin {

// A loaded plugin, as `portd handlers` shows it.
struct PluginInfo {
  std::string path;
  std::string name;
  std::string version;
  std::vector<std::string> handlers;
};

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads the shared object at `path` with dlopen() and registers its handlers in `registry`.
// Every failure (no such file, not a shared object, no entry symbol, another ABI version, a
// malformed handler table, a name already taken) throws PluginError with a message that names
// the path; `registry` is then unchanged. The object stays loaded for the life of the process:
// handler code may still be running on a worker when a configuration is dropped.
PluginInfo loadPlugin(const std::string& path, handlers::Registry& registry);

// Loads every [[plugin]] of `config` into `registry`, in order. A failure is a
// config::ConfigError at the plugin's path in the file.
std::vector<PluginInfo> loadPlugins(const config::Config& config, handlers::Registry& registry);

}  // namespace portd::plugin
