#include "core/send_batch.h"

#include <sys/socket.h>
#include <unistd.h>

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
constexpr int kLastFlags = kSendFlags | MSG_MORE;
// The completion of a shutdown (see submit()): its result is not needed.
constexpr uint64_t kShutdownTag = UINT64_MAX;

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
      // IORING_OP_SEND came with Linux 5.6; a ring of an older kernel would answer every send
      // with -EINVAL.
      io_uring_probe* probe = io_uring_get_probe_ring(ring.get());
      const bool sends = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_SEND);
      // IORING_OP_SHUTDOWN came with 5.11; before it, shutdown() is called for each.
      ring_shutdown_ = sends && io_uring_opcode_supported(probe, IORING_OP_SHUTDOWN);
      io_uring_free_probe(probe);
      if (!sends) {
        io_uring_queue_exit(ring.get());
        rc = -EOPNOTSUPP;
      }
    }
    if (rc == 0) {
      // Nearly every entry the ring will carry is the same operation: it is written into every
      // place once, and submit() fills in only what changes (and the operation itself, as a
      // place may have carried a shutdown).
      for (unsigned i = 0; i < ring->sq.ring_entries; ++i) {
        io_uring_prep_send(&ring->sq.sqes[i], -1, nullptr, 0, kSendFlags);
      }
      ring_ = std::move(ring);
      arena_ = std::make_unique<char[]>(kArenaSize);
    } else {
      error_ = -rc;
    }
  }
  enabled_ = on && ring_ != nullptr;
  return enabled_;
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
                           0,
                           old.close_after,
                           old.last};
  used_ += old.len + data.size();
  e.receiver = nullptr;
  e.close_after = false;
  e.last = false;
  *slot = ++count_;
  return true;
}

std::string_view SendBatch::pending(uint32_t slot) const {
  const Entry& e = entries_[slot - 1];
  return {arena_.get() + e.begin, e.len};
}

void SendBatch::cancel(uint32_t slot) {
  Entry& e = entries_[slot - 1];
  if (e.live()) {
    --live_;
  }
  e.receiver = nullptr;
  e.close_after = false;
}

void SendBatch::release(uint32_t slot) {
  entries_[slot - 1].receiver = nullptr;
  entries_[slot - 1].close_after = true;
  entries_[slot - 1].last = true;
}

void SendBatch::flush() {
  collecting_ = false;
  if (live_ == 0) {
    reset();
    return;
  }
  if (live_ == 1) {
    unsigned i = 0;
    while (!entries_[i].live()) {
      ++i;
    }
    Entry& e = entries_[i];
    ssize_t n;
    do {
      n = ::send(e.fd, arena_.get() + e.begin, e.len, e.last ? kLastFlags : kSendFlags);
    } while (n < 0 && errno == EINTR);
    e.result = n < 0 ? -errno : n;
    if (e.last && e.result == static_cast<ssize_t>(e.len)) {
      ::shutdown(e.fd, SHUT_WR);
    }
  } else {
    submit(live_);
  }
  // Every sender first takes note of its result (its entry is gone from then on), and only
  // then may act: a handler called for one connection may write to another of the batch, and
  // that one must no longer think its bytes wait here.
  bool follow = false;
  for (unsigned i = 0; i < count_; ++i) {
    Entry& e = entries_[i];
    if (e.close_after) {
      ::close(e.fd);
    } else if (e.receiver != nullptr) {
      const size_t took = e.result > 0 ? static_cast<size_t>(e.result) : 0;
      if (e.receiver->settle(e.owner, e.result,
                             std::string_view(arena_.get() + e.begin + took, e.len - took))) {
        follow = true;
      } else {
        e.receiver = nullptr;
      }
    }
  }
  for (unsigned i = 0; follow && i < count_; ++i) {
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
    if (!e.live()) {
      continue;
    }
    // Never null: the queue has kMaxEntries places and is empty between batches. The rest
    // of the entry was written once, by enable() (or by the shutdown the place last carried).
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    sqe->opcode = IORING_OP_SEND;
    sqe->flags = 0;
    sqe->fd = e.fd;
    sqe->addr = reinterpret_cast<uintptr_t>(arena_.get() + e.begin);
    sqe->len = e.len;
    sqe->user_data = i;
    sqe->msg_flags = e.last ? kLastFlags : kSendFlags;
  }
  ++ring_submits_;
  ring_sends_ += live;
  complete(live);
  // The entries that end their stream and were sent whole are shut down for writing, together
  // in one more call: that pushes out the tail MSG_MORE held back, with the FIN. Not linked
  // to the sends: a send the kernel took only in part still counts as done for a link, and
  // the rest could then never be sent. Shut down, not only closed: close() of a socket with
  // unread input resets it and drops what is held back. The kernel hands IORING_OP_SHUTDOWN
  // to one of its io-wq threads and this thread waits for it; that time is in the CPU-share
  // figures of docs/performance.md.
  unsigned ends = 0;
  for (unsigned i = 0; i < count_; ++i) {
    const Entry& e = entries_[i];
    if (e.live() && e.last && e.result == static_cast<ssize_t>(e.len)) {
      if (!ring_shutdown_) {
        ::shutdown(e.fd, SHUT_WR);
        continue;
      }
      // Never null: complete() has seen every send, so the whole queue is free again.
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      io_uring_prep_shutdown(sqe, e.fd, SHUT_WR);
      sqe->user_data = kShutdownTag;
      ++ends;
    }
  }
  if (ends > 0) {
    ++ring_submits_;
    complete(ends);
  }
}

void SendBatch::complete(unsigned expected) {
  io_uring* ring = ring_.get();
  unsigned live = expected;
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
