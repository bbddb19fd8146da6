#include "core/io_poller.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace portd::core {

IoPoller::IoPoller(uv_loop_t* loop, Mode mode) : loop_(loop), mode_(mode) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) {
    // Only at start-up, for want of memory or descriptors: nothing could be served.
    std::fprintf(stderr, "portd: epoll_create1: %s\n", std::strerror(errno));
    std::abort();
  }
  if (mode_ == Mode::kDriving) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kLibuvToken;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, uv_backend_fd(loop_), &ev) != 0) {
      std::fprintf(stderr, "portd: epoll_ctl: %s\n", std::strerror(errno));
      std::abort();
    }
    return;
  }
  // Neither can fail for a valid loop and an epoll descriptor.
  uv_poll_init(loop_, nested_.get(), epfd_);
  nested_->data = this;
  uv_poll_start(nested_.get(), UV_READABLE, &onNestedReadable);
  uv_check_init(loop_, check_.get());
  check_->data = this;
  uv_check_start(check_.get(), [](uv_check_t* c) {
    if (auto* self = static_cast<IoPoller*>(c->data)) {
      self->runNestedTurn();
    }
  });
  uv_unref(check_.handle());
  // Started only while deferred calls wait for the next turn: libuv then polls without
  // sleeping, as run() does in driving mode.
  uv_idle_init(loop_, idle_.get());
  idle_->data = this;
  updateRef();
}

IoPoller::~IoPoller() {
  // libuv stops watching the descriptor before it is closed, so that its number cannot be
  // handed out and then removed from libuv's set by mistake.
  nested_.reset();
  check_.reset();
  idle_.reset();
  runDeferred();
  ::close(epfd_);
}

uint64_t IoPoller::add(int fd, uint32_t events, IoWatch* watch) {
  const uint64_t token = watches_.add(watch);
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    watches_.remove(token);
    errno = err;
    return 0;
  }
  ++watched_;
  ++registrations_;
  updateRef();
  return token;
}

int IoPoller::modify(int fd, uint64_t token, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  return ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

void IoPoller::remove(uint64_t token, int fd) {
  if (fd >= 0) {
    epoll_event ev{};
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
  }
  if (token != 0 && watches_.get(token) != nullptr) {
    watches_.remove(token);
    --watched_;
    updateRef();
  }
}

void IoPoller::runDeferred() {
  while (!deferred_.empty()) {
    runDeferredOnce();
  }
}

void IoPoller::runDeferredOnce() {
  // What a deferred call defers runs in the next round, not in this one.
  running_.swap(deferred_);
  for (const Deferred& d : running_) {
    d.fn(d.arg);
  }
  running_.clear();
}

void IoPoller::dispatch(const epoll_event* ev, int n) {
  sends_.begin();
  for (int i = 0; i < n; ++i) {
    // kLibuvToken is never a live token (HandleTable's slots are numbered from 1).
    if (IoWatch* w = watches_.get(ev[i].data.u64)) {
      w->on_io(w, ev[i].events);
    }
  }
  events_ += static_cast<uint64_t>(n);
  // Reads put off to the end of the batch answer in it too. Once: a read that defers again
  // (its peer still has more queued) waits for the next turn of the loop, so that a peer who
  // keeps its socket full cannot hold the loop away from the others' events and its timers.
  runDeferredOnce();
  sends_.flush();
}

bool IoPoller::libuvDue() const {
  // A loop with nothing alive (no active, referenced handle or request, nothing closing) is
  // not run by uv_run() at all: it returns at once without applying its watcher queue, so
  // counting that queue then would make run() poll with no timeout, forever.
  if (uv_loop_alive(loop_) == 0) {
    return false;
  }
  // uv_*_start() only queues its epoll change on the loop's watcher queue; uv_run() applies
  // it. Until then libuv's descriptor cannot become ready for it, so a non-empty queue means
  // libuv must run. The queue is in the loop's private fields (uv/unix.h), which are part of
  // libuv 1.x's ABI: an empty queue points at itself.
  if (loop_->watcher_queue[0] != static_cast<const void*>(&loop_->watcher_queue)) {
    return true;
  }
  return uv_backend_timeout(loop_) == 0;
}

void IoPoller::run(const uint64_t* busy_poll_ns) {
  uint64_t spin_until = 0;
  for (;;) {
    uv_update_time(loop_);
    const bool libuv_alive = uv_loop_alive(loop_) != 0;
    if (!libuv_alive && watched_ == 0) {
      if (deferred_.empty()) {
        return;
      }
      // The last connections' destruction, before the caller frees what they refer to.
      runDeferred();
      continue;
    }
    bool run_libuv = libuvDue();
    int timeout = 0;
    if (!run_libuv) {
      timeout = libuv_alive ? uv_backend_timeout(loop_) : -1;
      if (*busy_poll_ns != 0 && timeout != 0 && uv_hrtime() < spin_until) {
        timeout = 0;  // latency mode: no sleep while events keep coming
      }
    }
    if (!deferred_.empty()) {
      timeout = 0;  // reads put off to this turn: input is waiting, no event will announce it
    }
    const int n = ::epoll_wait(epfd_, batch_, kBatch, timeout);
    // The wait may have slept: what the callbacks stamp with uv_now() (a connection's last
    // activity, a deadline) must be the time of the event, as libuv's own loop has it.
    uv_update_time(loop_);
    if (n > 0) {
      // libuv first when it is ready: what it delivers (a new configuration from the mailbox,
      // a signal) comes before the sockets' events of the same moment, as it would have come
      // first in time. Events of sockets it stopped are then dropped by their dead tokens.
      for (int i = 0; i < n; ++i) {
        if (batch_[i].data.u64 == kLibuvToken) {
          uv_run(loop_, UV_RUN_NOWAIT);
          run_libuv = false;
          break;
        }
      }
      dispatch(batch_, n);
      if (*busy_poll_ns != 0) {
        spin_until = uv_hrtime() + *busy_poll_ns;
      }
    } else if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "portd: epoll_wait: %s\n", std::strerror(errno));
      std::abort();
    } else {
      runDeferredOnce();  // dispatch() runs them when there are events
    }
    if (!run_libuv) {
      run_libuv = libuvDue();
    }
    if (run_libuv) {
      uv_run(loop_, UV_RUN_NOWAIT);
      // What its callbacks closed (an idle timeout) is freed before the wait, which then
      // need not be one that returns at once for it.
      runDeferredOnce();
    }
  }
}

void IoPoller::onNestedReadable(uv_poll_t* poll, int /*status*/, int /*events*/) {
  auto* self = static_cast<IoPoller*>(poll->data);
  if (self == nullptr) {
    return;
  }
  const int n = ::epoll_wait(self->epfd_, self->batch_, kBatch, 0);
  if (n > 0) {
    self->dispatch(self->batch_, n);
  }
  self->runNestedTurn();
}

void IoPoller::runNestedTurn() {
  runDeferredOnce();
  if (deferred_.empty()) {
    uv_idle_stop(idle_.get());
  }
}

void IoPoller::wakeNested() {
  // Not once the destructor has closed it: what it runs last may still defer.
  if (idle_ && idle_->type == UV_IDLE) {
    uv_idle_start(idle_.get(), [](uv_idle_t*) {});  // the check of a turn runs them
  }
}

void IoPoller::updateRef() {
  // Nested: registrations keep libuv's loop running, as the libuv handles they replace did.
  if (mode_ != Mode::kNested || !nested_) {
    return;
  }
  if (watched_ > 0) {
    uv_ref(nested_.handle());
  } else {
    uv_unref(nested_.handle());
  }
}

}  // namespace portd::core
