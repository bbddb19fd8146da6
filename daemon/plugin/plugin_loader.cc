#include "plugin/plugin_loader.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <portd/handler.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "config/error.h"
#include "handlers/abi/abi_handler.h"

namespace portd::plugin {

PluginInfo loadPlugin(const std::string& path, handlers::Registry& registry) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw PluginError(fmt::format("plugin {}: {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    throw PluginError(fmt::format("plugin {}: not a regular file", path));
  }
  // RTLD_NOW: an unresolved symbol is an error now, not a crash on the first request.
  // RTLD_LOCAL: two plugins may use the same symbol names.
  void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    throw PluginError(fmt::format("plugin {}: not a loadable shared object: {}", path,
                                  why ? why : "unknown error"));
  }
  auto entry = reinterpret_cast<portd_plugin_entry_fn>(::dlsym(lib, PORTD_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    ::dlclose(lib);
    throw PluginError(
        fmt::format("plugin {}: no {}() symbol: not a portd plugin, or built without PORTD_EXPORT",
                    path, PORTD_PLUGIN_ENTRY_SYMBOL));
  }
  const portd_plugin* p = entry();
  if (p == nullptr) {
    ::dlclose(lib);
    throw PluginError(
        fmt::format("plugin {}: {}() returned nothing", path, PORTD_PLUGIN_ENTRY_SYMBOL));
  }
  if (p->abi_version != PORTD_ABI_VERSION) {
    uint32_t version = p->abi_version;
    ::dlclose(lib);
    throw PluginError(fmt::format(
        "plugin {}: built for handler ABI version {}, but this portd speaks version {}: "
        "rebuild it against this portd's SDK",
        path, version, PORTD_ABI_VERSION));
  }

  // The table's size and its handlers' stride say which version of the structures the plugin
  // was built with (see "Compatibility" in <portd/handler.h>).
  constexpr size_t kV1Plugin = offsetof(portd_plugin, handler_count) + sizeof(size_t);
  if (p->size < kV1Plugin || p->handler_size < offsetof(portd_handler_def, name) + sizeof(void*)) {
    uint32_t size = p->size;
    uint32_t handler_size = p->handler_size;
    ::dlclose(lib);
    throw PluginError(fmt::format(
        "plugin {}: its portd_plugin table gives size {} and handler_size {}: initialise it with "
        "PORTD_PLUGIN_INIT (or PORTD_PLUGIN() in C++)",
        path, size, handler_size));
  }

  // Never dlclose()d once its handlers are in use; the handle only marks ownership.
  std::shared_ptr<const void> library(lib, [](const void*) {});
  PluginInfo info{path, p->name ? p->name : "", p->version ? p->version : "", {}};
  handlers::Registry candidate = registry;
  try {
    const auto* base = reinterpret_cast<const unsigned char*>(p->handlers);
    for (size_t i = 0; i < p->handler_count; ++i) {
      const auto& def = *reinterpret_cast<const portd_handler_def*>(base + i * p->handler_size);
      auto factory = handlers::abi::makeFactory(def, library);
      std::string name = factory->descriptor().name;
      if (auto error = candidate.add(std::move(factory))) {
        throw PluginError(fmt::format("plugin {}: {}", path, *error));
      }
      info.handlers.push_back(name);
    }
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(fmt::format("plugin {}: {}", path, e.what()));
  }
  if (info.handlers.empty()) {
    throw PluginError(fmt::format("plugin {}: it defines no handlers", path));
  }
  registry = std::move(candidate);
  return info;
}

std::vector<PluginInfo> loadPlugins(const config::Config& config, handlers::Registry& registry) {
  std::vector<PluginInfo> loaded;
  for (size_t i = 0; i < config.plugins.size(); ++i) {
    const config::PluginConfig& p = config.plugins[i];
    try {
      loaded.push_back(loadPlugin(p.path, registry));
    } catch (const PluginError& e) {
      throw config::ConfigError(config.source, p.place.line, p.place.column,
                                fmt::format("plugin[{}].path", i), e.what());
    }
  }
  return loaded;
}

}  // namespace portd::plugin
