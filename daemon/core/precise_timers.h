#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace portd::core {

// Timers to the microsecond on one loop. libuv 1.44 keeps time in whole milliseconds and sleeps
// in epoll_wait's milliseconds, so a timer of 10 ms fires between 10 and 11 ms later (or up to
// 1 ms early, measured from the cached loop time). What must be on time to a fraction of that
// (a response delayed on purpose, which load tests measure) waits here instead: one timerfd
// per queue, armed for the earliest of a heap of due times. The Timer nodes belong to their
// users (no allocation per start); the heap keeps pointers to them.
class PreciseTimers {
 public:
  struct Timer {
    using Callback = void (*)(Timer* timer);
    static constexpr size_t kIdle = SIZE_MAX;

    void* owner = nullptr;  // for the callback
    bool active() const { return slot != kIdle; }

   private:
    friend class PreciseTimers;
    uint64_t due_ns = 0;
    Callback cb = nullptr;
    size_t slot = kIdle;  // position in the heap
  };

  PreciseTimers() = default;
  ~PreciseTimers();
  PreciseTimers(const PreciseTimers&) = delete;
  PreciseTimers& operator=(const PreciseTimers&) = delete;

  // Calls cb(t) once uv_hrtime() reaches `due_ns`, on `loop` (the first start opens the
  // timerfd on it; every later one must name the same loop). Restarts an active timer. False
  // when no timerfd could be had (descriptors exhausted): the caller falls back.
  bool start(uv_loop_t* loop, Timer* t, uint64_t due_ns, Timer::Callback cb);
  void stop(Timer* t);
  size_t pending() const { return heap_.size(); }

 private:
  struct Poll;  // the uv_poll_t and its descriptor, freed when libuv is done with them

  bool open(uv_loop_t* loop);
  void arm();
  void fire();
  void place(Timer* t, size_t slot);
  void siftUp(size_t slot);
  void siftDown(size_t slot);
  void removeAt(size_t slot);

  std::vector<Timer*> heap_;
  Poll* poll_ = nullptr;
  uint64_t armed_ns_ = 0;  // what the timerfd is set for; 0 when disarmed
};

}  // namespace portd::core
