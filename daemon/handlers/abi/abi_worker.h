#pragma once

#include <portd/handler.h>

#include <array>
#include <atomic>
#include <string>
#include <vector>

#include "core/rate_limit.h"

namespace portd::core {
class LoopContext;
}

// What the C interface calls a portd_worker: one handler instance's view of its worker. Lives
// as long as the instance; touched by the worker thread only, except the counters, which a
// metrics reader may load from another thread.
struct portd_worker {
  static constexpr size_t kMaxCounters = 32;

  const portd_handler_def* def = nullptr;
  std::string listener;
  portd::core::LoopContext* loop = nullptr;
  void* instance = nullptr;
  bool creating = false;  // counters may be registered only in create()

  // Named counters: one writer (this worker), relaxed loads by readers; no lock, no sharing.
  std::vector<std::string> counter_names;
  std::array<std::atomic<uint64_t>, kMaxCounters> counter_values{};

  // Callback errors and misuse are logged at most once a second per instance.
  portd::core::RateLimit error_limit;
};

namespace portd::handlers::abi {

// The instance whose callback is running on this thread, for naming the culprit when a
// plugin misuses an id. Set for the length of each call into a handler.
portd_worker* dispatching();

class DispatchScope {
 public:
  explicit DispatchScope(portd_worker* w);
  ~DispatchScope();
  DispatchScope(const DispatchScope&) = delete;
  DispatchScope& operator=(const DispatchScope&) = delete;

 private:
  portd_worker* previous_;
};

}  // namespace portd::handlers::abi
