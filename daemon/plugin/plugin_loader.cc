#include "plugin/plugin_loader.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <portd/handler.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "config/error.h"
#include "handlers/abi/abi_handler.h"

namespace portd::plugin {

namespace {

// The registry entry made for each handler table, kept for the life of the process (as the
// plugins are). Loading a plugin again, as every reload does, yields the entries of the first
// load: dlopen() hands back the library already loaded, whose tables are where they were, and
// a reload keeps the handler instances of a listener only when the same entry serves it. A new
// build of a plugin is another library with tables of its own, and so gets new entries.
std::shared_ptr<handlers::HandlerFactory> factoryFor(const portd_handler_def& def,
                                                     const std::shared_ptr<const void>& library) {
  static std::mutex mutex;
  static std::map<const portd_handler_def*, std::shared_ptr<handlers::HandlerFactory>> made;
  std::lock_guard lock(mutex);
  auto& entry = made[&def];
  if (!entry) {
    entry = handlers::abi::makeFactory(def, library);
  }
  return entry;
}

}  // namespace

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

  // Never dlclose()d once its handlers are in use; the handle only marks ownership.
  std::shared_ptr<const void> library(lib, [](const void*) {});
  PluginInfo info{path, p->name ? p->name : "", p->version ? p->version : "", {}};
  handlers::Registry candidate = registry;
  try {
    for (size_t i = 0; i < p->handler_count; ++i) {
      auto factory = factoryFor(p->handlers[i], library);
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
