#include "core/send_batch.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace portd::core {

namespace {
// MSG_DONTWAIT makes io_uring answer a full socket with -EAGAIN, as send() would, instead of
// parking the request until there is room: the caller queues the rest and waits for EPOLLOUT
// as it does for a direct write, and flush() never waits for a peer.
constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;

[[noreturn]] void fail(const char* what, int err) {
  // Only a bug gets here (a bad descriptor of the ring's own, a bad address): the results of
  // sends already handed to the kernel could not be known.
  std::fprintf(stderr, "portd: %s: %s\n", what, std::strerror(err));
  std::abort();
}
}  // namespace

SendBatch::SendBatch() = default;

SendBatch::~SendBatch() {
  if (ring_) {
    io_uring_queue_exit(ring_.get());
  }
}

bool SendBatch::enable(bool on) {
  if (on && !tried_) {
    tried_ = true;
    auto ring = std::make_unique<io_uring>();
    // SUBMIT_ALL: one bad entry does not keep the others from going; COOP_TASKRUN: no
    // interrupt of the thread for completions it collects itself. Older kernels lack them.
    int rc = io_uring_queue_init(kMaxEntries, ring.get(),
                                 IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN);
    if (rc == -EINVAL) {
      rc = io_uring_queue_init(kMaxEntries, ring.get(), 0);
    }
    if (rc == 0) {
      ring_ = std::move(ring);
      arena_ = std::make_unique<char[]>(kArenaSize);
    } else {
      error_ = -rc;
    }
  }
  enabled_ = on && ring_ != nullptr;
  return enabled_;
}

uint32_t SendBatch::add(int fd, std::string_view data, const Receiver* receiver, void* owner) {
  if (!collecting_ || data.size() > kMaxWrite || count_ == kMaxEntries ||
      data.size() > kArenaSize - used_) {
    return 0;
  }
  std::memcpy(arena_.get() + used_, data.data(), data.size());
  entries_[count_] = Entry{
      fd, static_cast<uint32_t>(used_), static_cast<uint32_t>(data.size()), receiver, owner, 0};
  used_ += data.size();
  return ++count_;
}

bool SendBatch::extend(uint32_t* slot, std::string_view data) {
  Entry& e = entries_[*slot - 1];
  if (data.size() > kMaxWrite || e.len + data.size() > kMaxWrite ||
      data.size() > kArenaSize - used_) {
    return false;
  }
  if (e.begin + e.len == used_) {
    // The last bytes of the arena: grow in place.
    std::memcpy(arena_.get() + used_, data.data(), data.size());
    used_ += data.size();
    e.len += static_cast<uint32_t>(data.size());
    return true;
  }
  // Another entry follows: a copy at the end takes its place, so the socket still has one.
  if (count_ == kMaxEntries || e.len + data.size() > kArenaSize - used_) {
    return false;
  }
  const Entry old = e;
  std::memcpy(arena_.get() + used_, arena_.get() + old.begin, old.len);
  std::memcpy(arena_.get() + used_ + old.len, data.data(), data.size());
  entries_[count_] = Entry{old.fd,
                           static_cast<uint32_t>(used_),
                           static_cast<uint32_t>(old.len + data.size()),
                           old.receiver,
                           old.owner,
                           0};
  used_ += old.len + data.size();
  e.receiver = nullptr;
  *slot = ++count_;
  return true;
}

std::string_view SendBatch::pending(uint32_t slot) const {
  const Entry& e = entries_[slot - 1];
  return {arena_.get() + e.begin, e.len};
}

void SendBatch::cancel(uint32_t slot) { entries_[slot - 1].receiver = nullptr; }

void SendBatch::flush() {
  collecting_ = false;
  unsigned live = 0;
  unsigned last = 0;
  for (unsigned i = 0; i < count_; ++i) {
    if (entries_[i].receiver != nullptr) {
      ++live;
      last = i;
    }
  }
  if (live == 1) {
    Entry& e = entries_[last];
    ssize_t n;
    do {
      n = ::send(e.fd, arena_.get() + e.begin, e.len, kSendFlags);
    } while (n < 0 && errno == EINTR);
    e.result = n < 0 ? -errno : n;
  } else if (live > 1) {
    submit(live);
  }
  // Every sender first takes note of its result (its entry is gone from then on), and only
  // then may act: a handler called for one connection may write to another of the batch, and
  // that one must no longer think its bytes wait here.
  for (unsigned i = 0; i < count_; ++i) {
    const Entry& e = entries_[i];
    if (e.receiver != nullptr) {
      const size_t took = e.result > 0 ? static_cast<size_t>(e.result) : 0;
      e.receiver->settle(e.owner, e.result,
                         std::string_view(arena_.get() + e.begin + took, e.len - took));
    }
  }
  for (unsigned i = 0; i < count_; ++i) {
    const Entry& e = entries_[i];
    if (e.receiver != nullptr) {
      e.receiver->follow(e.owner, e.result);
    }
  }
  reset();
}

void SendBatch::submit(unsigned live) {
  io_uring* ring = ring_.get();
  for (unsigned i = 0; i < count_; ++i) {
    const Entry& e = entries_[i];
    if (e.receiver == nullptr) {
      continue;
    }
    // Never null: the queue has kMaxEntries places and is empty between batches.
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    io_uring_prep_send(sqe, e.fd, arena_.get() + e.begin, e.len, kSendFlags);
    sqe->user_data = i;
  }
  ++ring_submits_;
  ring_sends_ += live;
  unsigned reaped = 0;
  // Sends to sockets are issued inside the call, so the first call normally returns with
  // every completion; a signal can cut the wait short, then it is waited for again.
  int rc = io_uring_submit_and_wait(ring, live);
  for (;;) {
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      fail("io_uring_enter", -rc);
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
      if (cqe->user_data < count_) {
        entries_[cqe->user_data].result = cqe->res;
      }
      ++seen;
    }
    io_uring_cq_advance(ring, seen);
    reaped += seen;
    if (reaped >= live) {
      return;
    }
    rc = io_uring_submit_and_wait(ring, live - reaped);
  }
}

}  // namespace portd::core
