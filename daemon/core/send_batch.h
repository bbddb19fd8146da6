#pragma once

#include <liburing.h>
#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace portd::core {

// The replies of one wake-up, sent with one system call.
//
// A keep-alive request costs a read and a write, plus a share of the epoll_wait that found it:
// with a few events per wake-up, about 2.3 system calls. A send cannot be batched with
// sendmmsg across sockets, but io_uring can: while an IoPoller hands out a batch of events,
// small writes on sockets with nothing queued are copied here instead of sent, and when the
// batch ends they leave together in one io_uring_enter (IORING_OP_SEND, MSG_DONTWAIT: issued
// at once, in the call, and answered -EAGAIN rather than parked when the socket is full). The
// caller hears the result of each as a direct send would have told it, and queues what was
// not taken. A batch of one is sent with send(), which costs the same one call.
//
// Where the kernel refuses io_uring (a seccomp filter, kernel.io_uring_disabled, a kernel
// without it) or it is turned off, collecting() is false and writes go straight out.
//
// Order: a socket has at most one entry, so its bytes stay in order; writing to it again
// appends to its entry (moving it to the end of the arena if another entry follows).
// Loop thread only.
class SendBatch {
 public:
  // How a sender hears what became of its entry, in two rounds over every entry of the batch:
  // first settle(), which may only take note (`result` is the bytes the kernel took, or
  // -errno; `unsent` is what it did not take, valid during the call only), then follow(),
  // which may do anything (call a handler, close, write again: that goes straight out). So no
  // sender acts, or makes another act, while some entry of the batch is not yet settled.
  // settle() returns whether follow() is wanted; most replies, sent whole, need no follow-up.
  struct Receiver {
    bool (*settle)(void* owner, ssize_t result, std::string_view unsent);
    void (*follow)(void* owner, ssize_t result);
  };

  // Writes larger than this go straight out: a large write pays its own system call anyway.
  static constexpr size_t kMaxWrite = 16 * 1024;
  static constexpr size_t kArenaSize = 64 * 1024;
  static constexpr unsigned kMaxEntries = 64;

  SendBatch();
  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  // Turns batching on (making the ring the first time, on the calling thread) or off. Returns
  // whether it is on: false when asked to be off or when the kernel refused the ring (then
  // error() says why).
  bool enable(bool on);
  bool enabled() const { return enabled_; }
  // Why the ring could not be made (an errno value), or 0.
  int error() const { return error_; }

  // Collection starts for one batch of events (when enabled) and ends with flush().
  void begin() { collecting_ = enabled_; }
  bool collecting() const { return collecting_; }

  // Copies `data` into the batch for `fd`. Returns the entry's number (never 0), or 0 when it
  // cannot take it: not collecting, too large, or the batch is full (send it directly then).
  uint32_t add(int fd, std::string_view data, const Receiver* receiver, void* owner) {
    if (!collecting_ || data.size() > kMaxWrite || count_ == kMaxEntries ||
        data.size() > kArenaSize - used_) {
      return 0;
    }
    std::memcpy(arena_.get() + used_, data.data(), data.size());
    entries_[count_] = Entry{fd,
                             static_cast<uint32_t>(used_),
                             static_cast<uint32_t>(data.size()),
                             receiver,
                             owner,
                             0,
                             false,
                             false};
    used_ += data.size();
    ++live_;
    return ++count_;
  }
  // Appends `data` to entry `*slot` (which may move: *slot is updated). False when it does not
  // fit; the entry is unchanged then.
  bool extend(uint32_t* slot, std::string_view data);
  // What entry `slot` holds, not yet sent.
  std::string_view pending(uint32_t slot) const;
  // Drops entry `slot`: nothing is sent and its owner hears nothing.
  void cancel(uint32_t slot);
  // Its owner is going (the connection was aborted): entry `slot` is still sent, as much as
  // the kernel takes, then the batch closes `fd`; nobody hears the result. What a direct send
  // followed by close() would have done, with the FIN in the reply's segment (finishes()).
  void release(uint32_t slot);
  // Entry `slot` holds the last bytes of its socket: its owner closes it as soon as they are
  // all sent. They are sent with MSG_MORE, which holds their short tail back, and once the
  // kernel has taken them all the socket is shut down for writing (the shutdowns of a batch
  // in one call), which sends that tail with the FIN: one packet fewer per closed connection
  // for both ends (and one ACK fewer from the peer), as the reply and the end of the stream
  // reach the client together. Should the kernel take only part, there is no shutdown: the
  // rest goes later without MSG_MORE, which pushes out what was held, and the owner's close()
  // ends the stream.
  void finishes(uint32_t slot) { entries_[slot - 1].last = true; }

  // Ends the collection: sends every entry (one io_uring_enter, or one send() for a single
  // entry; one more call for the entries that end their stream), then settles and follows
  // each, in the order the entries were made.
  void flush();

  // Batches flushed through the ring, and the sends they carried (for tests and benchmarks).
  uint64_t ringSubmits() const { return ring_submits_; }
  uint64_t ringSends() const { return ring_sends_; }

 private:
  struct Entry {
    int fd;
    uint32_t begin;  // in arena_
    uint32_t len;
    const Receiver* receiver;  // null once cancelled or released
    void* owner;
    ssize_t result;
    bool close_after;  // released: sent, then the descriptor is closed
    bool last;         // the end of the stream: MSG_MORE and a shutdown (see finishes())
    bool live() const { return receiver != nullptr || close_after; }
  };
  // Sends entries through the ring, filling in their results, then shuts down those that end
  // their stream.
  void submit(unsigned live);
  // Submits what is queued and waits for `expected` completions, filling in the sends' results.
  void complete(unsigned expected);
  void reset() {
    count_ = 0;
    live_ = 0;
    used_ = 0;
  }

  std::unique_ptr<io_uring> ring_;  // made on first enable(true); null when refused
  bool tried_ = false;
  bool enabled_ = false;
  bool ring_shutdown_ = false;  // the kernel has IORING_OP_SHUTDOWN
  bool collecting_ = false;
  int error_ = 0;
  unsigned count_ = 0;  // entries made this batch, cancelled ones included
  unsigned live_ = 0;   // entries to send: not cancelled (released ones included)
  size_t used_ = 0;     // bytes of arena_ used this batch
  std::array<Entry, kMaxEntries> entries_{};
  std::unique_ptr<char[]> arena_;
  uint64_t ring_submits_ = 0;
  uint64_t ring_sends_ = 0;
};

}  // namespace portd::core
