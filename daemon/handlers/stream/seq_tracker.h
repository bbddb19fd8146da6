#pragma once

#include <array>
#include <cstdint>

namespace portd::handlers::stream {

// What one peer's stream looked like so far.
struct StreamStats {
  uint64_t received = 0;    // distinct packets, in or out of order
  uint64_t bytes = 0;       // of every packet, duplicates included
  uint64_t lost = 0;        // sequence numbers given up on (see SeqTracker)
  uint64_t duplicated = 0;  // a sequence number seen again
  uint64_t reordered = 0;   // arrived below the highest sequence number seen, in time
  uint64_t late = 0;        // arrived after it had been counted lost
  double jitter_ns = 0;     // RFC 3550 interarrival jitter
};

// Loss, duplicate, reorder and jitter accounting of one stream of sequence numbers, in fixed
// memory. Sequence numbers within kWindow of the highest seen are remembered in a bitmap: one
// seen again is a duplicate, one not seen yet a reordered arrival. A sequence number is counted
// lost once it falls out of the window unseen, or at finish(): counters only ever grow, so the
// totals can feed the daemon's monotonic counters, at the price of counting a loss up to
// kWindow packets late. One that arrives after that is counted late (and stays lost).
class SeqTracker {
 public:
  static constexpr uint64_t kWindow = 1024;

  // A packet with sequence number `seq`, `bytes` long, sent at `send_ns` by the sender's clock
  // and received at `arrival_ns` by ours. Only differences of the two clocks are used, so
  // their offset cancels.
  void add(uint64_t seq, uint64_t bytes, int64_t send_ns, int64_t arrival_ns);
  // Counts the sequence numbers still missing between the lowest and the highest seen as lost
  // (the stream ended); the tracker may then take a new stream after reset().
  void finish();
  void reset() { *this = SeqTracker(); }

  const StreamStats& stats() const { return stats_; }

 private:
  bool test(uint64_t seq) const { return (bits_[(seq % kWindow) / 64] >> (seq % 64)) & 1; }
  void set(uint64_t seq) { bits_[(seq % kWindow) / 64] |= uint64_t{1} << (seq % 64); }
  void clear(uint64_t seq) { bits_[(seq % kWindow) / 64] &= ~(uint64_t{1} << (seq % 64)); }
  // Moves the window's top to `next`, counting what leaves it unseen as lost.
  void advance(uint64_t next);
  void jitter(int64_t send_ns, int64_t arrival_ns);

  StreamStats stats_;
  std::array<uint64_t, kWindow / 64> bits_{};
  bool started_ = false;
  uint64_t low_ = 0;   // the lowest sequence number of the stream seen (or given up on)
  uint64_t next_ = 0;  // one above the highest seen; the window is [next_ - kWindow, next_)
  bool have_transit_ = false;
  int64_t last_transit_ = 0;
};

}  // namespace portd::handlers::stream
