#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <vector>

#include "core/handle_table.h"

namespace portd::core {

// One-shot timers for handlers, with generation-checked ids (see HandleTable). The uv_timer_t
// handles are kept and reused, so starting a timer allocates nothing once the pool has grown
// to the number of timers pending at once. Timers are unreferenced: a draining worker does not
// wait for them, only for its connections. Loop thread only.
class TimerPool {
 public:
  using Callback = void (*)(void* arg);

  explicit TimerPool(uv_loop_t* loop) : loop_(loop) {}
  ~TimerPool();
  TimerPool(const TimerPool&) = delete;
  TimerPool& operator=(const TimerPool&) = delete;

  // Returns the timer's id, never 0. `owner` identifies who started it, for cancelAll().
  uint64_t start(uint64_t delay_ms, Callback cb, void* arg, const void* owner);
  // False when the id is stale (the timer fired or was stopped).
  bool stop(uint64_t id);
  // Who started a pending timer; null when the id is stale.
  const void* ownerOf(uint64_t id) const {
    const Timer* t = ids_.get(id);
    return t ? t->owner : nullptr;
  }
  // Stops every pending timer started by `owner` (a handler instance going away).
  void cancelAll(const void* owner);
  // Closes every handle; the pool is unusable afterwards. Run the loop once more to finish.
  void close();

  size_t pending() const { return pending_; }
  // The owner of the timer whose callback is running, or null.
  const void* firingOwner() const { return firing_owner_; }

 private:
  struct Timer {
    uv_timer_t handle;
    TimerPool* pool;
    uint64_t id = 0;
    Callback cb = nullptr;
    void* arg = nullptr;
    const void* owner = nullptr;
  };
  static void onFire(uv_timer_t* h);
  void release(Timer* t);

  uv_loop_t* loop_;
  std::deque<Timer> timers_;  // stable addresses: libuv holds pointers to the handles
  std::vector<Timer*> idle_;
  HandleTable<Timer> ids_;
  size_t pending_ = 0;
  const void* firing_owner_ = nullptr;
  bool closed_ = false;
};

}  // namespace portd::core
