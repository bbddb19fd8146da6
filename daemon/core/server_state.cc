#include "core/server_state.h"

namespace portd::core {

ServerState::ServerState(std::shared_ptr<const config::Config> config, unsigned workers)
    : config_(std::move(config)), started_(std::chrono::steady_clock::now()) {
  for (unsigned w = 0; w < workers; ++w) {
    auto state = std::make_unique<WorkerState>();
    for (size_t i = 0; i < config_->listeners.size(); ++i) {
      state->listeners.push_back(std::make_shared<net::ListenerStats>());
    }
    state->heartbeat_ms = nowMs();
    workers_.push_back(std::move(state));
  }
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

}  // namespace portd::core
