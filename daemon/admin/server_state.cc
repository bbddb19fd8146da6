#include "admin/server_state.h"

namespace portd::admin {

ServerState::ServerState(std::shared_ptr<const config::Config> config, unsigned workers)
    : config_(std::move(config)), started_(std::chrono::steady_clock::now()) {
  for (unsigned w = 0; w < workers; ++w) {
    WorkerState& state = addWorker();
    for (const config::ListenerConfig& l : config_->listeners) {
      state.listeners[l.name] = std::make_shared<net::ListenerStats>();
    }
  }
}

WorkerState& ServerState::addWorker() {
  auto state = std::make_unique<WorkerState>();
  state->heartbeat_ms = nowMs();
  workers_.push_back(std::move(state));
  return *workers_.back();
}

unsigned ServerState::runningWorkers() const {
  unsigned n = 0;
  for (const auto& w : workers_) {
    n += w->exited.load(std::memory_order_relaxed) ? 0 : 1;
  }
  return n;
}

std::shared_ptr<net::ListenerStats> ServerState::stats(unsigned worker, const std::string& name) {
  auto& slot = workers_[worker]->listeners[name];
  if (!slot) {
    slot = std::make_shared<net::ListenerStats>();
  }
  return slot;
}

uint64_t ServerState::nowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

bool ServerState::healthy(uint64_t max_age_ms) const {
  uint64_t now = nowMs();
  for (const auto& w : workers_) {
    if (w->exited.load(std::memory_order_relaxed)) {
      continue;
    }
    uint64_t beat = w->heartbeat_ms.load(std::memory_order_relaxed);
    if (now > beat && now - beat > max_age_ms) {
      return false;
    }
  }
  return true;
}

double ServerState::uptimeSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

}  // namespace portd::admin
