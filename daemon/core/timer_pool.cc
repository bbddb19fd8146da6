#include "core/timer_pool.h"

#include <cassert>

namespace portd::core {

TimerPool::~TimerPool() { assert(closed_ || timers_.empty()); }

uint64_t TimerPool::start(uint64_t delay_ms, Callback cb, void* arg, const void* owner) {
  if (closed_) {
    return 0;
  }
  Timer* t;
  if (!idle_.empty()) {
    t = idle_.back();
    idle_.pop_back();
  } else {
    t = &timers_.emplace_back();
    t->pool = this;
    uv_timer_init(loop_, &t->handle);
    t->handle.data = t;
    uv_unref(reinterpret_cast<uv_handle_t*>(&t->handle));
  }
  t->cb = cb;
  t->arg = arg;
  t->owner = owner;
  t->id = ids_.add(t);
  ++pending_;
  uv_timer_start(&t->handle, &onFire, delay_ms, 0);
  return t->id;
}

bool TimerPool::stop(uint64_t id) {
  Timer* t = ids_.get(id);
  if (t == nullptr) {
    return false;
  }
  uv_timer_stop(&t->handle);
  release(t);
  return true;
}

void TimerPool::cancelAll(const void* owner) {
  for (Timer& t : timers_) {
    if (t.id != 0 && t.owner == owner) {
      uv_timer_stop(&t.handle);
      release(&t);
    }
  }
}

void TimerPool::release(Timer* t) {
  ids_.remove(t->id);
  t->id = 0;
  t->cb = nullptr;
  --pending_;
  idle_.push_back(t);
}

void TimerPool::onFire(uv_timer_t* h) {
  auto* t = static_cast<Timer*>(h->data);
  Callback cb = t->cb;
  void* arg = t->arg;
  TimerPool* pool = t->pool;
  const void* previous = pool->firing_owner_;
  pool->firing_owner_ = t->owner;
  // Released before the call, so that the callback may start a new timer in this very slot and
  // its own id is already stale.
  pool->release(t);
  cb(arg);
  pool->firing_owner_ = previous;
}

void TimerPool::close() {
  closed_ = true;
  for (Timer& t : timers_) {
    if (t.id != 0) {
      ids_.remove(t.id);
      t.id = 0;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&t.handle), nullptr);
  }
  idle_.clear();
  pending_ = 0;
}

}  // namespace portd::core
