#include "config/reload.h"

#include <algorithm>

namespace portd::config {

bool keepsHandler(const ListenerConfig& before, const ListenerConfig& after) {
  return before.handler_config != nullptr && before.options != nullptr &&
         after.options != nullptr && before.handler_factory != nullptr &&
         before.name == after.name && before.protocol == after.protocol &&
         before.address == after.address && before.max_connections == after.max_connections &&
         before.idle_timeout == after.idle_timeout &&
         before.write_buffer_limit == after.write_buffer_limit &&
         before.lingering_timeout == after.lingering_timeout &&
         before.max_connections_per_ip == after.max_connections_per_ip &&
         before.reuse_port == after.reuse_port &&
         before.blocked_source_ports == after.blocked_source_ports &&
         before.udp_reply_rate == after.udp_reply_rate &&
         before.udp_reply_burst == after.udp_reply_burst && before.handler == after.handler &&
         before.handler_factory == after.handler_factory && !before.options_name_files &&
         !after.options_name_files && *before.options == *after.options;
}

std::shared_ptr<const Config> carryOverHandlers(const Config& current,
                                                std::shared_ptr<const Config> next,
                                                std::vector<std::string>* kept) {
  auto copy = std::make_shared<Config>(*next);
  size_t count = 0;
  for (ListenerConfig& l : copy->listeners) {
    auto old = std::find_if(current.listeners.begin(), current.listeners.end(),
                            [&](const ListenerConfig& c) { return c.name == l.name; });
    if (old == current.listeners.end() || !keepsHandler(*old, l)) {
      continue;
    }
    // The options go with the handler configuration made from them, so that /config shows
    // what the live instances serve (the values are equal anyway).
    l.options = old->options;
    l.handler_config = old->handler_config;
    l.handler_factory = old->handler_factory;
    kept->push_back(l.name);
    ++count;
  }
  if (count == 0) {
    return next;
  }
  return copy;
}

}  // namespace portd::config
