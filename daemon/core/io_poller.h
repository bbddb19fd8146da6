#pragma once

#include <sys/epoll.h>
#include <uv.h>

#include <cstdint>
#include <vector>

#include "core/handle_table.h"
#include "core/send_batch.h"
#include "core/uv_handle.h"

namespace portd::core {

// What IoPoller calls back: embedded in the object that owns a descriptor.
struct IoWatch {
  void (*on_io)(IoWatch* self, uint32_t events) = nullptr;
};

// The descriptors a loop serves most (connections, listening and datagram sockets), watched in
// an epoll set of the loop's own instead of through libuv's handles. libuv costs two system
// calls per connection that are not needed: uv_tcp_open() sets O_NONBLOCK again (ioctl
// FIONBIO) on a socket accept4() made non-blocking, and closing a handle removes the
// descriptor from epoll (EPOLL_CTL_DEL) although close() does that by itself; its stream layer
// also costs instructions on every read and write. libuv stays for timers, signals, async
// wake-ups and everything else.
//
// Each registration gets a token from a HandleTable (slot and generation), and the kernel
// hands the token back with each event: an event that arrives after remove(), in the same
// batch or later, finds nothing and is dropped. That is what makes it safe to close a
// descriptor without EPOLL_CTL_DEL even when someone else holds a duplicate of it (the
// registration then outlives the close, but can never reach a freed object).
//
// Two ways to run:
// - Driving (a worker): run() blocks in this set's epoll_wait, where libuv's own epoll
//   descriptor is one more member; libuv runs (uv_run NOWAIT) only when its descriptor is
//   ready, a timer is due or it has changes queued. One epoll_wait per wake-up, as before.
// - Nested (the main loop, tests, benchmarks): the set is one uv_poll_t in libuv's loop and
//   uv_run() works as usual, at one more epoll_wait per wake-up.
// Loop thread only.
class IoPoller {
 public:
  enum class Mode { kNested, kDriving };

  IoPoller(uv_loop_t* loop, Mode mode);
  ~IoPoller();
  IoPoller(const IoPoller&) = delete;
  IoPoller& operator=(const IoPoller&) = delete;

  // Watches `fd` for `events` (EPOLLIN, EPOLLOUT, EPOLLET, ...); `watch->on_io` is called on
  // the loop with what happened. Returns the registration's token (never 0), or 0 with errno
  // set.
  uint64_t add(int fd, uint32_t events, IoWatch* watch);
  // Changes what is watched. 0 or -errno.
  int modify(int fd, uint64_t token, uint32_t events);
  // No more calls for `token`, from now on. With `fd` >= 0 the descriptor also leaves the set
  // (for one that stays open); one about to be closed leaves it by itself.
  void remove(uint64_t token, int fd = -1);

  // Calls fn(arg) once the callback now running has returned: after this batch of events, or
  // at the end of this libuv loop turn. How objects that close from inside their own callback
  // are freed, and how a reader with more input waiting gives the others a turn. In driving
  // mode what a deferred call defers waits for the next turn of the loop (after an
  // epoll_wait that does not sleep), so that calls that keep deferring themselves cannot keep
  // the loop from its events and timers.
  void defer(void (*fn)(void*), void* arg) {
    if (deferred_.empty() && mode_ == Mode::kNested) {
      wakeNested();
    }
    deferred_.push_back({fn, arg});
  }
  // Runs the deferred calls, and what they defer, until none is left.
  void runDeferred();

  // Driving mode only: runs the loop until neither libuv nor this set has anything left
  // (returns then). While `*busy_poll_ns` is not 0, polls without sleeping for that long after
  // the last event before it blocks (latency mode); it is read on every turn, so a reload can
  // change it.
  void run(const uint64_t* busy_poll_ns);

  // The replies of the batch of events being handed out, sent together when it ends. Off (and
  // no ring made) until enabled: a worker follows [server] io_uring.
  SendBatch& sends() { return sends_; }

  // Registrations alive: each keeps the loop running, as an active libuv handle would.
  size_t watched() const { return watched_; }
  // Events delivered so far.
  uint64_t events() const { return events_; }
  // Registrations made so far (successful add() calls).
  uint64_t registrations() const { return registrations_; }

 private:
  static constexpr uint64_t kLibuvToken = UINT64_MAX;
  static constexpr int kBatch = 64;

  // Calls back for `n` events (libuv's own descriptor among them is skipped), runs what they
  // deferred, then sends what they wrote.
  void dispatch(const epoll_event* ev, int n);
  // Runs the calls deferred so far; what they defer waits for the next call.
  void runDeferredOnce();
  // Whether libuv must run now: a timer is due, it has pending or closing work, or changes to
  // its epoll set queued by uv_*_start() since it last ran (which only uv_run applies).
  bool libuvDue() const;
  static void onNestedReadable(uv_poll_t* poll, int status, int events);
  // Nested mode, once per libuv turn: a round of deferred calls; the idle handle, started by
  // defer() (wakeNested), keeps libuv's poll from sleeping until none is left, also for calls
  // deferred from a timer's callback, which runs before the poll.
  void runNestedTurn();
  void wakeNested();
  void updateRef();

  uv_loop_t* loop_;
  const Mode mode_;
  int epfd_ = -1;
  HandleTable<IoWatch> watches_;
  size_t watched_ = 0;
  uint64_t events_ = 0;
  uint64_t registrations_ = 0;
  struct Deferred {
    void (*fn)(void*);
    void* arg;
  };
  std::vector<Deferred> deferred_;
  std::vector<Deferred> running_;
  SendBatch sends_;
  epoll_event batch_[kBatch];
  UvHandle<uv_poll_t> nested_;  // kNested: the set, watched by libuv
  UvHandle<uv_check_t> check_;  // kNested: runs what libuv callbacks deferred
  UvHandle<uv_idle_t> idle_;    // kNested: started while deferred calls wait
};

}  // namespace portd::core
