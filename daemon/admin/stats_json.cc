// GET /stats: the figures of /metrics as one JSON document.

#include <toml++/toml.h>

#include <sstream>
#include <string>

#include "admin/host_netstat.h"
#include "admin/metrics.h"
#include "admin/totals.h"
#include "version.h"

namespace portd::admin {

std::string renderStatsJson(const admin::ServerState& state) {
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
      // Per listening socket, as in /metrics.
      toml::array queues;
      for (const net::ListenQueue& q : state.listenQueues(l.name)) {
        queues.push_back(toml::table{{"length", n(q.length)}, {"limit", n(q.limit)}});
      }
      entry.insert("listen_queues", std::move(queues));
    } else {
      entry.insert(
          "datagrams",
          toml::table{{"in", n(t.datagrams_in)},
                      {"out", n(t.datagrams_out)},
                      {"refused", toml::table{{"own_address", n(t.refused_own_address)},
                                              {"blocked_source_port", n(t.refused_blocked_port)}}},
                      {"replies_refused", toml::table{{"reply_rate", n(t.replies_refused_rate)}}}});
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
    // Handlers' labelled series: {"peer": {"127.0.0.1:40112": {"received": 98, ...}}}.
    if (!t.series.empty()) {
      toml::table series;
      for (const SeriesTotals& s : t.series) {
        toml::table values;
        for (const auto& [value, figures] : s.values) {
          toml::table row;
          for (const auto& [name, v] : figures.counters) {
            row.insert(name, n(v));
          }
          for (const auto& [name, v] : figures.gauges) {
            row.insert(name, v);
          }
          values.insert(value, std::move(row));
        }
        series.insert(s.label, std::move(values));
      }
      entry.insert("handler_series", std::move(series));
    }
    listeners.push_back(std::move(entry));
  }
  const char* phase = state.phase() == admin::ServerState::Phase::kReady      ? "ready"
                      : state.phase() == admin::ServerState::Phase::kDraining ? "draining"
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
  HostListenCounters host = readHostListenCounters();
  toml::table host_table;
  if (host.overflows) {
    host_table.insert("listen_overflows", static_cast<int64_t>(*host.overflows));
  }
  if (host.drops) {
    host_table.insert("listen_drops", static_cast<int64_t>(*host.drops));
  }
  root.insert("host", std::move(host_table));
  std::ostringstream out;
  out << toml::json_formatter{root} << "\n";
  return out.str();
}

}  // namespace portd::admin
