#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.h"
#include "net/listener_stats.h"

namespace portd::core {

// What one worker publishes for the admin endpoint. Written by the worker thread only;
// read by the admin listener on the main thread. No lock: counters and atomics.
struct WorkerState {
  // One per listener of the configuration, in order. Created before the worker starts.
  std::vector<std::shared_ptr<net::ListenerStats>> listeners;
  // Milliseconds on the steady clock when the loop last turned (a 250 ms timer stamps it).
  std::atomic<uint64_t> heartbeat_ms{0};
  std::atomic<bool> exited{false};
};

// The daemon as the admin endpoint sees it: phase, workers, counters, configuration.
class ServerState {
 public:
  enum class Phase { kStarting, kReady, kDraining };

  ServerState(std::shared_ptr<const config::Config> config, unsigned workers);

  static uint64_t nowMs();

  const config::Config& config() const { return *config_; }
  unsigned workerCount() const { return static_cast<unsigned>(workers_.size()); }
  WorkerState& worker(unsigned i) { return *workers_[i]; }
  const WorkerState& worker(unsigned i) const { return *workers_[i]; }

  Phase phase() const { return phase_.load(std::memory_order_acquire); }
  void setPhase(Phase p) { phase_.store(p, std::memory_order_release); }

  // Every worker that still runs has turned its loop within `max_age_ms`.
  bool healthy(uint64_t max_age_ms = 1000) const;
  double uptimeSeconds() const;

 private:
  std::shared_ptr<const config::Config> config_;
  std::vector<std::unique_ptr<WorkerState>> workers_;
  std::atomic<Phase> phase_{Phase::kStarting};
  std::chrono::steady_clock::time_point started_;
};

}  // namespace portd::core
