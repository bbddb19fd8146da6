// The one place that writes TOML: option values (for `portd check`, `portd handlers` and the
// /config dump) and whole configurations, all through toml++'s formatter, so that what portd
// prints is always valid TOML that reads back as the same values.

#include "config/toml_writer.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <sstream>
#include <variant>

#include "config/options.h"

namespace portd::config {

namespace {

// An option value as a TOML node.
toml::node_view<toml::node> insertOption(toml::table& t, const std::string& key,
                                         const OptionValue& v) {
  std::visit(
      [&](const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, int64_t> ||
                      std::is_same_v<T, std::string>) {
          t.insert_or_assign(key, value);
        } else if constexpr (std::is_same_v<T, Duration>) {
          t.insert_or_assign(key, formatDuration(value));
        } else if constexpr (std::is_same_v<T, ByteSize>) {
          t.insert_or_assign(key, static_cast<int64_t>(value.bytes));
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>> ||
                             std::is_same_v<T, std::vector<std::string>>) {
          toml::array a;
          for (const auto& x : value) {
            a.push_back(x);
          }
          t.insert_or_assign(key, std::move(a));
        } else if constexpr (std::is_same_v<T, std::vector<Options>>) {
          toml::array tables;
          for (const Options& o : value) {
            toml::table entry;
            for (const auto& [k, x] : o.values()) {
              insertOption(entry, k, x);
            }
            tables.push_back(std::move(entry));
          }
          t.insert_or_assign(key, std::move(tables));
        } else {
          static_assert(sizeof(T) == 0, "an option type TOML cannot show");
        }
      },
      v);
  return t[key];
}

}  // namespace

std::string formatOptionValue(const OptionValue& value) {
  // Formatted as the only element of an inline array, so that tables come out inline
  // ({path = "/a"}) and the whole value stays on one line; the brackets are then dropped.
  toml::table holder;
  toml::node_view<toml::node> node = insertOption(holder, "v", value);
  toml::array one;
  one.push_back(*node.node());
  std::ostringstream out;
  out << toml::toml_formatter{one, toml::format_flags::none};
  std::string text = out.str();
  // "[ x ]" -> "x"
  if (text.size() >= 4 && text.front() == '[' && text.back() == ']') {
    text = text.substr(2, text.size() - 4);
  }
  return text;
}

namespace {

// [listener.faults] as the loader reads it back.
toml::table faultsTable(const net::FaultSettings& f) {
  const double million = net::FaultSettings::kMillion;
  toml::table t;
  if (f.seed != 0) {
    t.insert("seed", static_cast<int64_t>(f.seed));
  }
  const std::pair<const char*, uint32_t> probabilities[] = {
      {"udp_drop", f.udp_drop}, {"udp_duplicate", f.udp_duplicate}, {"udp_reorder", f.udp_reorder}};
  for (const auto& [key, value] : probabilities) {
    if (value != 0) {
      t.insert(key, value / million);
    }
  }
  if (!f.delay.empty()) {
    std::string text;
    for (const net::FaultDelay& d : f.delay) {
      text += fmt::format("{}{}ms:{}", text.empty() ? "" : ",", d.ms, d.per_million / 10000.0);
    }
    t.insert("delay", text);
  }
  const std::pair<const char*, uint64_t> sizes[] = {{"reset_after_bytes", f.reset_after_bytes},
                                                    {"write_rate", f.write_rate},
                                                    {"read_rate", f.read_rate}};
  for (const auto& [key, value] : sizes) {
    if (value != 0) {
      t.insert(key, static_cast<int64_t>(value));
    }
  }
  if (f.accept_delay_ms != 0) {
    t.insert("accept_delay", formatDuration(Duration(f.accept_delay_ms)));
  }
  return t;
}

}  // namespace

std::string renderConfigToml(const Config& cfg) {
  toml::table root{
      {"server", toml::table{{"workers", static_cast<int64_t>(cfg.server.workers)},
                             {"shutdown_timeout", formatDuration(cfg.server.shutdown_timeout)},
                             {"max_connections", static_cast<int64_t>(cfg.server.max_connections)},
                             {"busy_poll", std::to_string(cfg.server.busy_poll.count()) + "us"},
                             {"io_uring", cfg.server.io_uring}}},
      {"log", toml::table{{"level", cfg.log.level},
                          {"format", cfg.log.format == LogFormat::kJson ? "json" : "text"}}},
  };
  if (cfg.admin_address) {
    root.insert("admin", toml::table{{"address", cfg.admin_address->toString()}});
  }
  if (!cfg.plugins.empty()) {
    toml::array plugins;
    for (const PluginConfig& p : cfg.plugins) {
      plugins.push_back(toml::table{{"path", p.path}});
    }
    root.insert("plugin", std::move(plugins));
  }
  toml::array listeners;
  for (const ListenerConfig& l : cfg.listeners) {
    toml::table t{{"name", l.name},
                  {"protocol", transportName(l.protocol)},
                  {"address", l.address.toString()},
                  {"handler", l.handler}};
    if (l.protocol == net::Transport::kTcp) {
      t.insert("max_connections", static_cast<int64_t>(l.max_connections));
      t.insert("idle_timeout", formatDuration(l.idle_timeout));
      t.insert("write_buffer_limit", static_cast<int64_t>(l.write_buffer_limit));
      t.insert("lingering_timeout", formatDuration(l.lingering_timeout));
      t.insert("max_connections_per_ip", static_cast<int64_t>(l.max_connections_per_ip));
      // Only as written: left out, they keep the socket's own (a .socket unit's, for one).
      if (l.backlog) {
        t.insert("backlog", static_cast<int64_t>(*l.backlog));
      }
      if (l.defer_accept) {
        t.insert("defer_accept", formatDuration(*l.defer_accept));
      }
      if (l.fastopen) {
        t.insert("fastopen", static_cast<int64_t>(*l.fastopen));
      }
    }
    if (l.reuse_port) {
      t.insert("reuse_port", true);
    }
    if (!l.blocked_source_ports.empty()) {
      toml::array ports;
      for (uint16_t p : l.blocked_source_ports) {
        ports.push_back(static_cast<int64_t>(p));
      }
      t.insert("blocked_source_ports", std::move(ports));
    }
    if (l.udp_reply_rate != 0) {
      t.insert("udp_reply_rate", static_cast<int64_t>(l.udp_reply_rate));
      t.insert("udp_reply_burst", static_cast<int64_t>(l.udp_reply_burst));
    }
    if (l.faults.any() || l.faults.seed != 0) {
      t.insert("faults", faultsTable(l.faults));
    }
    if (l.options && !l.options->values().empty()) {
      toml::table opts;
      for (const auto& [key, value] : l.options->values()) {
        insertOption(opts, key, value);
      }
      t.insert("options", std::move(opts));
    }
    listeners.push_back(std::move(t));
  }
  root.insert("listener", std::move(listeners));
  std::ostringstream out;
  out << "# The configuration in force, from " << cfg.source << ", with every default filled in.\n"
      << toml::toml_formatter{root} << "\n";
  return out.str();
}

}  // namespace portd::config
