#include "admin/metrics.h"

#include <dirent.h>
#include <fmt/format.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <variant>

#include "handlers/options.h"
#include "version.h"

namespace portd::admin {

namespace {

using net::ListenerStats;

// One listener's counters summed over the workers.
struct Totals {
  uint64_t accepted = 0, closed = 0, rejected = 0, accept_errors = 0, idle_timeouts = 0;
  uint64_t handler_errors = 0, bytes_in = 0, bytes_out = 0;
  uint64_t datagrams_in = 0, datagrams_out = 0, datagrams_dropped = 0;
  uint64_t requests = 0, bad_requests = 0, too_large = 0, timeouts = 0, latency_sum_us = 0;
  std::array<uint64_t, 5> responses{};
  std::array<uint64_t, net::RequestStats::kBucketsUs.size() + 1> latency{};
  std::vector<std::pair<std::string, uint64_t>> handler;  // named counters, first seen order

  uint64_t active() const { return accepted - rejected - closed; }
  bool has_requests = false;  // a handler with requests serves this listener
};

Totals sum(const core::ServerState& state, const std::string& listener) {
  Totals t;
  for (unsigned w = 0; w < state.workerCount(); ++w) {
    const auto& map = state.worker(w).listeners;
    auto it = map.find(listener);
    if (it == map.end()) {
      continue;
    }
    const ListenerStats& s = *it->second;
    t.accepted += s.accepted.load();
    t.closed += s.closed.load();
    t.rejected += s.rejected.load();
    t.accept_errors += s.accept_errors.load();
    t.idle_timeouts += s.idle_timeouts.load();
    t.handler_errors += s.handler_errors.load();
    t.bytes_in += s.bytes_in.load();
    t.bytes_out += s.bytes_out.load();
    t.datagrams_in += s.datagrams_in.load();
    t.datagrams_out += s.datagrams_out.load();
    t.datagrams_dropped += s.datagrams_dropped.load();
    t.has_requests = t.has_requests || s.requests.has_requests.load(std::memory_order_relaxed);
    t.requests += s.requests.requests.load();
    t.bad_requests += s.requests.bad_requests.load();
    t.too_large += s.requests.too_large.load();
    t.timeouts += s.requests.timeouts.load();
    t.latency_sum_us += s.requests.latency_sum_us.load();
    for (size_t i = 0; i < t.responses.size(); ++i) {
      t.responses[i] += s.requests.responses[i].load();
    }
    for (size_t i = 0; i < t.latency.size(); ++i) {
      t.latency[i] += s.requests.latency[i].load();
    }
    for (const auto& [name, v] : s.handler.snapshot()) {
      auto found = std::find_if(t.handler.begin(), t.handler.end(),
                                [&](const auto& p) { return p.first == name; });
      if (found == t.handler.end()) {
        t.handler.emplace_back(name, v);
      } else {
        found->second += v;
      }
    }
  }
  return t;
}

uint64_t openFds() {
  uint64_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') {
        ++n;
      }
    }
    ::closedir(d);
    --n;  // the directory's own descriptor
  }
  return n;
}

uint64_t residentBytes() {
  uint64_t pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu %lu", &pages, &resident) != 2) {
      resident = 0;
    }
    std::fclose(f);
  }
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::string compiler() {
#if defined(__clang__)
  return fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  return fmt::format("gcc {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

// Label values: backslash, double quote and newline are escaped (exposition format 0.0.4).
std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

class Writer {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  template <typename T>
  void sample(const std::string& name, const std::string& labels, T value) {
    if (labels.empty()) {
      out_ += fmt::format("{} {}\n", name, value);
    } else {
      out_ += fmt::format("{}{{{}}} {}\n", name, labels, value);
    }
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string renderPrometheus(const core::ServerState& state) {
  const config::Config& cfg = state.config();
  std::vector<Totals> totals;
  std::vector<std::string> labels;
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    const config::ListenerConfig& l = cfg.listeners[i];
    totals.push_back(sum(state, l.name));
    labels.push_back(fmt::format(R"(listener="{}",handler="{}",protocol="{}")", escape(l.name),
                                 escape(l.handler), config::transportName(l.protocol)));
  }
  auto isTcp = [&](size_t i) { return cfg.listeners[i].protocol == net::Transport::kTcp; };

  Writer w;
  struct Simple {
    const char* name;
    const char* type;
    const char* help;
    uint64_t Totals::*field;
    bool tcp_only;
    bool udp_only;
  };
  const Simple simple[] = {
      {"portd_connections_accepted_total", "counter", "TCP connections accepted.",
       &Totals::accepted, true, false},
      {"portd_connections_closed_total", "counter", "TCP connections closed after being served.",
       &Totals::closed, true, false},
      {"portd_bytes_received_total", "counter", "Bytes read from peers.", &Totals::bytes_in, false,
       false},
      {"portd_bytes_sent_total", "counter", "Bytes written to peers.", &Totals::bytes_out, false,
       false},
      {"portd_datagrams_received_total", "counter", "UDP datagrams received.",
       &Totals::datagrams_in, false, true},
      {"portd_datagrams_sent_total", "counter", "UDP datagrams sent.", &Totals::datagrams_out,
       false, true},
  };
  for (const Simple& m : simple) {
    w.family(m.name, m.type, m.help);
    for (size_t i = 0; i < totals.size(); ++i) {
      if ((m.tcp_only && !isTcp(i)) || (m.udp_only && isTcp(i))) {
        continue;
      }
      w.sample(m.name, labels[i], totals[i].*m.field);
    }
  }
  w.family("portd_connections_active", "gauge", "TCP connections open now.");
  for (size_t i = 0; i < totals.size(); ++i) {
    if (isTcp(i)) {
      w.sample("portd_connections_active", labels[i], totals[i].active());
    }
  }

  w.family("portd_errors_total", "counter", "Errors by kind.");
  for (size_t i = 0; i < totals.size(); ++i) {
    const Totals& t = totals[i];
    const std::pair<const char*, uint64_t> kinds[] = {
        {"accept", t.accept_errors},
        {"rejected_max_connections", t.rejected},
        {"idle_timeout", t.idle_timeouts},
        {"handler", t.handler_errors},
        {"datagram_dropped", t.datagrams_dropped},
        {"bad_request", t.bad_requests},
        {"too_large", t.too_large},
        {"request_timeout", t.timeouts},
    };
    for (const auto& [kind, value] : kinds) {
      w.sample("portd_errors_total", labels[i] + fmt::format(R"(,kind="{}")", kind), value);
    }
  }

  w.family("portd_requests_total", "counter", "Requests received, for handlers that have them.");
  for (size_t i = 0; i < totals.size(); ++i) {
    if (totals[i].has_requests) {
      w.sample("portd_requests_total", labels[i], totals[i].requests);
    }
  }
  w.family("portd_responses_total", "counter", "Responses sent, by status class.");
  for (size_t i = 0; i < totals.size(); ++i) {
    if (totals[i].has_requests) {
      for (size_t c = 0; c < 5; ++c) {
        w.sample("portd_responses_total", labels[i] + fmt::format(R"(,class="{}")", kClasses[c]),
                 totals[i].responses[c]);
      }
    }
  }
  w.family("portd_request_duration_seconds", "histogram",
           "Time from a request's last byte to its response being queued.");
  for (size_t i = 0; i < totals.size(); ++i) {
    const Totals& t = totals[i];
    if (!t.has_requests) {
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t b = 0; b < t.latency.size(); ++b) {
      cumulative += t.latency[b];
      std::string le = b < net::RequestStats::kBucketsUs.size()
                           ? fmt::format("{}", net::RequestStats::kBucketsUs[b] / 1e6)
                           : "+Inf";
      w.sample("portd_request_duration_seconds_bucket", labels[i] + fmt::format(R"(,le="{}")", le),
               cumulative);
    }
    w.sample("portd_request_duration_seconds_sum", labels[i], t.latency_sum_us / 1e6);
    w.sample("portd_request_duration_seconds_count", labels[i], cumulative);
  }

  w.family("portd_handler_events_total", "counter",
           "Events counted by handlers, by the name the handler gave them.");
  for (size_t i = 0; i < totals.size(); ++i) {
    for (const auto& [name, value] : totals[i].handler) {
      w.sample("portd_handler_events_total", labels[i] + fmt::format(R"(,name="{}")", escape(name)),
               value);
    }
  }

  w.family("portd_uptime_seconds", "gauge", "Seconds since the daemon started.");
  w.sample("portd_uptime_seconds", "", state.uptimeSeconds());
  w.family("portd_workers", "gauge", "Worker threads (event loops) running.");
  w.sample("portd_workers", "", static_cast<uint64_t>(state.runningWorkers()));
  w.family("portd_reloads_total", "counter", "Configuration reloads applied.");
  w.sample("portd_reloads_total", "", state.reloads);
  w.family("portd_reload_failures_total", "counter",
           "Reloads refused because the new configuration was invalid.");
  w.sample("portd_reload_failures_total", "", state.reload_failures);
  w.family("portd_up", "gauge", "1 while every worker loop turns, as /healthz says.");
  w.sample("portd_up", "", uint64_t{state.healthy() ? 1u : 0u});
  w.family("process_open_fds", "gauge", "Open file descriptors.");
  w.sample("process_open_fds", "", openFds());
  w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  w.sample("process_resident_memory_bytes", "", residentBytes());
  w.family("portd_build_info", "gauge", "Always 1; the labels say what was built.");
  w.sample("portd_build_info",
           fmt::format(R"(version="{}",compiler="{}")", PORTD_VERSION, escape(compiler())),
           uint64_t{1});
  return w.take();
}

std::string renderStatsJson(const core::ServerState& state) {
  const config::Config& cfg = state.config();
  toml::array listeners;
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    const config::ListenerConfig& l = cfg.listeners[i];
    Totals t = sum(state, l.name);
    auto n = [](uint64_t v) { return static_cast<int64_t>(v); };
    toml::table entry{
        {"name", l.name},
        {"protocol", config::transportName(l.protocol)},
        {"address", l.address.toString()},
        {"handler", l.handler},
        {"bytes_in", n(t.bytes_in)},
        {"bytes_out", n(t.bytes_out)},
        {"errors", toml::table{{"accept", n(t.accept_errors)},
                               {"rejected_max_connections", n(t.rejected)},
                               {"idle_timeout", n(t.idle_timeouts)},
                               {"handler", n(t.handler_errors)},
                               {"datagram_dropped", n(t.datagrams_dropped)},
                               {"bad_request", n(t.bad_requests)},
                               {"too_large", n(t.too_large)},
                               {"request_timeout", n(t.timeouts)}}},
    };
    if (l.protocol == net::Transport::kTcp) {
      entry.insert("connections", toml::table{{"accepted", n(t.accepted)},
                                              {"active", n(t.active())},
                                              {"closed", n(t.closed)}});
    } else {
      entry.insert("datagrams",
                   toml::table{{"in", n(t.datagrams_in)}, {"out", n(t.datagrams_out)}});
    }
    if (t.has_requests) {
      toml::table responses;
      for (size_t c = 0; c < 5; ++c) {
        responses.insert(kClasses[c], n(t.responses[c]));
      }
      entry.insert("requests", n(t.requests));
      entry.insert("responses", std::move(responses));
      entry.insert("latency_sum_seconds", t.latency_sum_us / 1e6);
    }
    if (!t.handler.empty()) {
      toml::table counters;
      for (const auto& [name, value] : t.handler) {
        counters.insert(name, n(value));
      }
      entry.insert("handler_counters", std::move(counters));
    }
    listeners.push_back(std::move(entry));
  }
  const char* phase = state.phase() == core::ServerState::Phase::kReady      ? "ready"
                      : state.phase() == core::ServerState::Phase::kDraining ? "draining"
                                                                             : "starting";
  toml::table root{
      {"version", PORTD_VERSION},
      {"phase", phase},
      {"healthy", state.healthy()},
      {"uptime_seconds", state.uptimeSeconds()},
      {"workers", static_cast<int64_t>(state.runningWorkers())},
      {"reloads", static_cast<int64_t>(state.reloads)},
      {"reload_failures", static_cast<int64_t>(state.reload_failures)},
      {"open_fds", static_cast<int64_t>(openFds())},
      {"resident_memory_bytes", static_cast<int64_t>(residentBytes())},
      {"listeners", std::move(listeners)},
  };
  std::ostringstream out;
  out << toml::json_formatter{root} << "\n";
  return out.str();
}

namespace {

// An option value as a TOML node, so that /config loads back as the same configuration.
void insertOption(toml::table& t, const std::string& key, const handlers::OptionValue& v) {
  std::visit(
      [&](const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, int64_t> ||
                      std::is_same_v<T, std::string>) {
          t.insert(key, value);
        } else if constexpr (std::is_same_v<T, config::Duration>) {
          t.insert(key, config::formatDuration(value));
        } else if constexpr (std::is_same_v<T, handlers::ByteSize>) {
          t.insert(key, static_cast<int64_t>(value.bytes));
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>> ||
                             std::is_same_v<T, std::vector<std::string>>) {
          toml::array a;
          for (const auto& x : value) {
            a.push_back(x);
          }
          t.insert(key, std::move(a));
        } else if constexpr (std::is_same_v<T, std::vector<handlers::Options>>) {
          toml::array tables;
          for (const handlers::Options& o : value) {
            toml::table entry;
            for (const auto& [k, x] : o.values()) {
              insertOption(entry, k, x);
            }
            tables.push_back(std::move(entry));
          }
          t.insert(key, std::move(tables));
        } else {
          static_assert(sizeof(T) == 0, "an option type /config cannot show");
        }
      },
      v);
}

}  // namespace

std::string renderConfigToml(const config::Config& cfg) {
  toml::table root{
      {"server",
       toml::table{{"workers", static_cast<int64_t>(cfg.server.workers)},
                   {"shutdown_timeout", config::formatDuration(cfg.server.shutdown_timeout)}}},
      {"log",
       toml::table{{"level", cfg.log.level},
                   {"format", cfg.log.format == config::LogFormat::kJson ? "json" : "text"}}},
  };
  if (cfg.admin_address) {
    root.insert("admin", toml::table{{"address", cfg.admin_address->toString()}});
  }
  if (!cfg.plugins.empty()) {
    toml::array plugins;
    for (const plugin::PluginInfo& p : cfg.plugins) {
      plugins.push_back(toml::table{{"path", p.path}});
    }
    root.insert("plugin", std::move(plugins));
  }
  toml::array listeners;
  for (const config::ListenerConfig& l : cfg.listeners) {
    toml::table t{{"name", l.name},
                  {"protocol", config::transportName(l.protocol)},
                  {"address", l.address.toString()},
                  {"handler", l.handler}};
    if (l.protocol == net::Transport::kTcp) {
      t.insert("max_connections", static_cast<int64_t>(l.max_connections));
      t.insert("idle_timeout", config::formatDuration(l.idle_timeout));
      t.insert("write_buffer_limit", static_cast<int64_t>(l.write_buffer_limit));
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

}  // namespace portd::admin
