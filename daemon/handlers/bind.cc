#include "handlers/bind.h"

#include <fmt/format.h>

#include <string>
#include <variant>
#include <vector>

#include "config/loader.h"
#include "config/option_reader.h"

namespace portd::handlers {

namespace {

// Whether `values` give a file to any kPath option of `schema`, tables of a kTableList
// included: the handler reads such a file when it is configured.
bool namesFiles(const std::vector<OptionSpec>& schema, const Options& values) {
  for (const OptionSpec& spec : schema) {
    auto it = values.values().find(spec.name);
    if (it == values.values().end()) {
      continue;
    }
    if (spec.type == OptionType::kPath && !std::get<std::string>(it->second).empty()) {
      return true;
    }
    if (spec.type == OptionType::kTableList) {
      for (const Options& table : std::get<std::vector<Options>>(it->second)) {
        if (namesFiles(spec.fields, table)) {
          return true;
        }
      }
    }
  }
  return false;
}

}  // namespace

void bind(config::Config& config, const Registry& registry) {
  if (config.listeners.empty()) {
    throw config::ConfigError(config.source, config.place.line, config.place.column, "listener",
                              "no listeners: add at least one [[listener]] table");
  }
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    config::ListenerConfig& l = config.listeners[i];
    std::string path = fmt::format("listener[{}]", i);
    auto fail = [&](const std::string& what) {
      throw config::ConfigError(config.source, l.handler_place.line, l.handler_place.column,
                                path + ".handler", what);
    };
    std::shared_ptr<const HandlerFactory> entry = registry.entry(l.handler);
    const HandlerFactory* factory = entry.get();
    if (factory == nullptr) {
      fail(fmt::format("unknown handler \"{}\" (registered: {})", l.handler, registry.names()));
    }
    const HandlerDescriptor& desc = factory->descriptor();
    unsigned need = l.protocol == net::Transport::kTcp ? kTcp : kUdp;
    if ((desc.protocols & need) == 0) {
      fail(fmt::format("handler \"{}\" does not support {} (it supports: {})", l.handler,
                       config::transportName(l.protocol), protocolsToString(desc.protocols)));
    }
    std::string opts_path = path + ".options";
    l.options = std::make_shared<const Options>(
        config::readOptions(config.source, l.raw_options.get(), l.place, opts_path, desc.options,
                            fmt::format("option for handler \"{}\"", desc.name)));
    try {
      l.handler_config = factory->configure(*l.options);
    } catch (const OptionError& e) {
      throw config::optionError(config.source, l.raw_options.get(), l.place, opts_path, e);
    }
    l.handler_factory = std::move(entry);
    l.options_name_files = namesFiles(desc.options, *l.options);
  }
}

std::shared_ptr<const config::Config> loadAndBind(std::string_view text, const std::string& source,
                                                  const Registry& registry) {
  std::shared_ptr<config::Config> config = config::loadConfig(text, source);
  bind(*config, registry);
  return config;
}

}  // namespace portd::handlers
