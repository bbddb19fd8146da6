#include "core/precise_timers.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cassert>

namespace portd::core {

struct PreciseTimers::Poll {
  uv_poll_t handle{};
  int fd = -1;
  PreciseTimers* owner = nullptr;
};

PreciseTimers::~PreciseTimers() {
  // Users stop their timers before the queue goes (a session detaches first); any left are
  // only forgotten.
  for (Timer* t : heap_) {
    t->slot = Timer::kIdle;
  }
  if (poll_ != nullptr) {
    poll_->owner = nullptr;
    uv_poll_stop(&poll_->handle);
    // The descriptor is closed once libuv has let go of the handle.
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_->handle), [](uv_handle_t* h) {
      auto* p = static_cast<Poll*>(h->data);
      ::close(p->fd);
      delete p;
    });
  }
}

bool PreciseTimers::open(uv_loop_t* loop) {
  // CLOCK_MONOTONIC is uv_hrtime()'s clock, so due times need no conversion.
  const int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  auto* p = new Poll;
  p->fd = fd;
  p->owner = this;
  if (uv_poll_init(loop, &p->handle, fd) != 0) {
    ::close(fd);
    delete p;
    return false;
  }
  p->handle.data = p;
  // A pending delay is a connection's business: it must not keep a draining worker alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&p->handle));
  uv_poll_start(&p->handle, UV_READABLE, [](uv_poll_t* h, int, int) {
    auto* p = static_cast<Poll*>(h->data);
    uint64_t expirations = 0;
    (void)!::read(p->fd, &expirations, sizeof expirations);
    if (p->owner != nullptr) {
      p->owner->fire();
    }
  });
  poll_ = p;
  return true;
}

bool PreciseTimers::start(uv_loop_t* loop, Timer* t, uint64_t due_ns, Timer::Callback cb) {
  if (poll_ == nullptr && !open(loop)) {
    return false;
  }
  assert(poll_->handle.loop == loop);
  if (t->active()) {
    removeAt(t->slot);
  }
  t->due_ns = due_ns;
  t->cb = cb;
  heap_.push_back(t);
  place(t, heap_.size() - 1);
  siftUp(t->slot);
  arm();
  return true;
}

void PreciseTimers::stop(Timer* t) {
  if (t->active()) {
    removeAt(t->slot);
    arm();
  }
}

void PreciseTimers::fire() {
  const uint64_t now = uv_hrtime();
  armed_ns_ = 0;
  // A callback may start or stop timers: the heap is read afresh each time.
  while (!heap_.empty() && heap_.front()->due_ns <= now) {
    Timer* t = heap_.front();
    removeAt(0);
    t->cb(t);
  }
  arm();
}

void PreciseTimers::arm() {
  const uint64_t due = heap_.empty() ? 0 : heap_.front()->due_ns;
  if (due == armed_ns_ || poll_ == nullptr) {
    return;
  }
  itimerspec when{};
  if (due != 0) {
    when.it_value.tv_sec = static_cast<time_t>(due / 1000000000);
    when.it_value.tv_nsec = static_cast<long>(due % 1000000000);
  }
  // Absolute: a due time already past fires at once. All zero disarms.
  ::timerfd_settime(poll_->fd, TFD_TIMER_ABSTIME, &when, nullptr);
  armed_ns_ = due;
}

void PreciseTimers::place(Timer* t, size_t slot) {
  heap_[slot] = t;
  t->slot = slot;
}

void PreciseTimers::siftUp(size_t slot) {
  Timer* t = heap_[slot];
  while (slot > 0) {
    const size_t parent = (slot - 1) / 2;
    if (heap_[parent]->due_ns <= t->due_ns) {
      break;
    }
    place(heap_[parent], slot);
    slot = parent;
  }
  place(t, slot);
}

void PreciseTimers::siftDown(size_t slot) {
  Timer* t = heap_[slot];
  const size_t n = heap_.size();
  for (;;) {
    size_t child = 2 * slot + 1;
    if (child >= n) {
      break;
    }
    if (child + 1 < n && heap_[child + 1]->due_ns < heap_[child]->due_ns) {
      ++child;
    }
    if (t->due_ns <= heap_[child]->due_ns) {
      break;
    }
    place(heap_[child], slot);
    slot = child;
  }
  place(t, slot);
}

void PreciseTimers::removeAt(size_t slot) {
  Timer* gone = heap_[slot];
  gone->slot = Timer::kIdle;
  Timer* last = heap_.back();
  heap_.pop_back();
  if (last == gone) {
    return;
  }
  place(last, slot);
  siftUp(slot);
  siftDown(last->slot);
}

}  // namespace portd::core
