#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/listen_tuning.h"
#include "net/listener_stats.h"

namespace portd::admin {

// What one worker publishes for the admin endpoint. The counters are written by the worker
// thread only and read by the admin listener on the main thread: no lock, counters and atomics.
struct WorkerState {
  // By listener name. The map itself is changed by the main thread only (which creates an
  // entry before handing it to the worker); a listener's counters carry on across reloads.
  std::map<std::string, std::shared_ptr<net::ListenerStats>> listeners;
  // Milliseconds on the steady clock when the loop last turned (a 250 ms timer stamps it).
  std::atomic<uint64_t> heartbeat_ms{0};
  std::atomic<bool> exited{false};
};

// The daemon as the admin endpoint sees it: phase, workers, counters, configuration. Changed
// on the main thread only (start, reload); workers write only the counters they were given.
class ServerState {
 public:
  enum class Phase { kStarting, kReady, kDraining };

  ServerState(std::shared_ptr<const config::Config> config, unsigned workers);

  static uint64_t nowMs();

  const config::Config& config() const { return *config_; }
  const std::shared_ptr<const config::Config>& configPtr() const { return config_; }
  void setConfig(std::shared_ptr<const config::Config> config) { config_ = std::move(config); }

  // Every worker that ever ran, exited ones included, so that totals never go backwards.
  unsigned workerCount() const { return static_cast<unsigned>(workers_.size()); }
  WorkerState& worker(unsigned i) { return *workers_[i]; }
  const WorkerState& worker(unsigned i) const { return *workers_[i]; }
  WorkerState& addWorker();
  // Workers still running.
  unsigned runningWorkers() const;
  // This worker's counters of listener `name`, created on first use.
  std::shared_ptr<net::ListenerStats> stats(unsigned worker, const std::string& name);

  uint64_t reloads = 0;          // applied
  uint64_t reload_failures = 0;  // refused: the old configuration kept serving

  Phase phase() const { return phase_.load(std::memory_order_acquire); }
  void setPhase(Phase p) { phase_.store(p, std::memory_order_release); }

  // The accept queue of each socket of TCP listener `name`, read when a scrape asks, on the
  // main thread, from the descriptors the main thread keeps (server::SocketSet): a figure of
  // the kernel's, so no worker is asked. Empty until the supervisor sets the reader.
  using ListenQueueReader = std::function<std::vector<net::ListenQueue>(const std::string&)>;
  void setListenQueueReader(ListenQueueReader reader) { listen_queues_ = std::move(reader); }
  std::vector<net::ListenQueue> listenQueues(const std::string& name) const {
    return listen_queues_ ? listen_queues_(name) : std::vector<net::ListenQueue>{};
  }

  // Every worker that still runs has turned its loop within `max_age_ms`.
  bool healthy(uint64_t max_age_ms = 1000) const;
  double uptimeSeconds() const;

 private:
  std::shared_ptr<const config::Config> config_;
  std::vector<std::unique_ptr<WorkerState>> workers_;
  std::atomic<Phase> phase_{Phase::kStarting};
  std::chrono::steady_clock::time_point started_;
  ListenQueueReader listen_queues_;
};

}  // namespace portd::admin
