// GET /metrics: the Prometheus text exposition format 0.0.4.

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "admin/host_netstat.h"
#include "admin/metrics.h"
#include "admin/prometheus_text.h"
#include "admin/series_metrics.h"
#include "admin/totals.h"
#include "version.h"

namespace portd::admin {

namespace {

std::string escape(std::string_view v) { return escapeLabelValue(v); }

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
  void append(const std::string& text) { out_ += text; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string renderPrometheus(const admin::ServerState& state) {
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

  // The figure a reflection attack is judged by: how many bytes a listener sends for each byte
  // it receives. Over 1 a spoofed source gets more back than it paid for.
  w.family("portd_udp_amplification_ratio", "gauge",
           "UDP bytes sent per byte received since start (0 before the first datagram).");
  for (size_t i = 0; i < totals.size(); ++i) {
    if (!isTcp(i)) {
      const Totals& t = totals[i];
      double ratio = t.bytes_in == 0
                         ? 0.0
                         : static_cast<double>(t.bytes_out) / static_cast<double>(t.bytes_in);
      w.sample("portd_udp_amplification_ratio", labels[i], ratio);
    }
  }

  w.family("portd_datagrams_refused_total", "counter",
           "UDP datagrams dropped before the handler, by reason: sent from the listener's own "
           "address and port, or from a blocked source port.");
  for (size_t i = 0; i < totals.size(); ++i) {
    if (!isTcp(i)) {
      w.sample("portd_datagrams_refused_total", labels[i] + R"(,reason="own_address")",
               totals[i].refused_own_address);
      w.sample("portd_datagrams_refused_total", labels[i] + R"(,reason="blocked_source_port")",
               totals[i].refused_blocked_port);
    }
  }
  w.family("portd_replies_refused_total", "counter",
           "UDP replies not sent, by reason: over the destination's udp_reply_rate.");
  for (size_t i = 0; i < totals.size(); ++i) {
    if (!isTcp(i)) {
      w.sample("portd_replies_refused_total", labels[i] + R"(,reason="reply_rate")",
               totals[i].replies_refused_rate);
    }
  }

  w.family("portd_faults_injected_total", "counter",
           "Faults injected on purpose ([listener.faults]), by kind.");
  for (size_t i = 0; i < totals.size(); ++i) {
    if (!cfg.listeners[i].faults.any() &&
        std::all_of(totals[i].faults.begin(), totals[i].faults.end(),
                    [](uint64_t v) { return v == 0; })) {
      continue;  // only listeners that inject faults, or did
    }
    for (size_t k = 0; k < net::kFaultKinds; ++k) {
      w.sample("portd_faults_injected_total",
               labels[i] + fmt::format(R"(,kind="{}")", net::kFaultKindNames[k]),
               totals[i].faults[k]);
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
  // Handlers' labelled series (series_declare), e.g. per peer: admin/series_metrics.cc.
  w.append(renderSeries(labels, totals));

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

  // The handshake: each TCP listener's accept queues, read from the kernel now, one series per
  // socket (SO_REUSEPORT gives each worker its own queue, and the kernel spreads connections
  // by hash, not by room, so one queue can overflow while the others are empty); and the
  // host's counters of handshakes dropped at a full queue, which no listener sees.
  w.family("portd_listen_queue_length", "gauge",
           "Connections the kernel completed that wait to be accepted, per listening socket "
           "(socket k is served by worker k mod workers).");
  std::vector<std::vector<net::ListenQueue>> queues;
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    queues.push_back(isTcp(i) ? state.listenQueues(cfg.listeners[i].name)
                              : std::vector<net::ListenQueue>{});
    for (size_t k = 0; k < queues[i].size(); ++k) {
      w.sample("portd_listen_queue_length", labels[i] + fmt::format(R"(,socket="{}")", k),
               queues[i][k].length);
    }
  }
  w.family("portd_listen_queue_limit", "gauge",
           "The accept queue's limit per listening socket: the listener's backlog, capped at "
           "net.core.somaxconn; handshakes are dropped once the queue holds one more.");
  for (size_t i = 0; i < queues.size(); ++i) {
    for (size_t k = 0; k < queues[i].size(); ++k) {
      w.sample("portd_listen_queue_limit", labels[i] + fmt::format(R"(,socket="{}")", k),
               queues[i][k].limit);
    }
  }
  HostListenCounters host = readHostListenCounters();
  if (host.overflows) {
    w.family("portd_host_listen_overflows_total", "counter",
             "TcpExt ListenOverflows of portd's network namespace: handshakes that found a "
             "listener's accept queue full, any process's listener.");
    w.sample("portd_host_listen_overflows_total", "", *host.overflows);
  }
  if (host.drops) {
    w.family("portd_host_listen_drops_total", "counter",
             "TcpExt ListenDrops of portd's network namespace: handshakes dropped at any "
             "listener, overflows included.");
    w.sample("portd_host_listen_drops_total", "", *host.drops);
  }
  return w.take();
}

}  // namespace portd::admin
