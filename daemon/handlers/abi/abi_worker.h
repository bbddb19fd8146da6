#pragma once

#include <portd/handler.h>

#include <array>
#include <memory>
#include <string>

#include "core/rate_limit.h"

namespace portd::core {
class LoopContext;
class SeriesTable;
}  // namespace portd::core
namespace portd::net {
class Handler;
struct ListenerStats;
}  // namespace portd::net

// What the C interface calls a portd_worker: one handler instance's view of its worker. Lives
// as long as the instance; touched by the worker thread only.
struct portd_worker {
  const portd_handler_def* def = nullptr;
  // The instance's place in the internal interface: connections and datagram sockets whose
  // listener calls this handler belong to this instance.
  const portd::net::Handler* handler = nullptr;
  std::string listener;
  portd::core::LoopContext* loop = nullptr;
  // The listener's counters on this worker: named handler counters and handler_errors.
  portd::net::ListenerStats* stats = nullptr;
  void* instance = nullptr;
  bool creating = false;  // counters may be registered only in create()
  // Labelled series the instance declared (series_declare), also listed in stats->series for
  // the scrapes; taken out of that list when the instance is destroyed.
  std::array<std::shared_ptr<portd::core::SeriesTable>, PORTD_SERIES_MAX_SETS> series{};
  size_t series_count = 0;

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
