#pragma once

#include <cstdint>
#include <vector>

namespace portd::load {

// stream:// --subscribe: the accounting of one received stream of sequence numbers from 0
// (a source's stream starts there), in fixed memory. The last kWindow sequence numbers below
// the highest seen are remembered in a bitmap: one seen again is a duplicate, one arriving
// below the highest and not seen yet is reordered. A number that leaves the window unseen is
// lost, and at finish() so is every one still missing below the highest; one arriving after
// it was counted lost is late (and stays lost). Counts only grow.
class ReceiveTracker {
 public:
  static constexpr uint64_t kWindow = 16384;
  enum class Arrival { kFirst, kDuplicate, kLate };

  ReceiveTracker() : bits_(kWindow / 64) {}

  // Message `seq` sent at `send_ns` (the sender's clock) arrived at `arrival_ns` (ours).
  // *lost gets how many numbers this arrival gave up on (a jump past the window).
  Arrival add(uint64_t seq, uint64_t send_ns, uint64_t arrival_ns, uint64_t* lost);
  // The stream ended: returns how many numbers below the highest never arrived (and were not
  // counted lost yet). reset() then takes a new stream.
  uint64_t finish();
  void reset();

  uint64_t received() const { return received_; }
  uint64_t duplicated() const { return duplicated_; }
  uint64_t reordered() const { return reordered_; }
  uint64_t late() const { return late_; }
  uint64_t lost() const { return lost_; }
  // RFC 3550's interarrival jitter (section 6.4.1), in ns.
  double jitterNs() const { return jitter_; }

 private:
  bool test(uint64_t seq) const { return (bits_[(seq % kWindow) / 64] >> (seq % 64)) & 1; }
  void set(uint64_t seq) { bits_[(seq % kWindow) / 64] |= uint64_t{1} << (seq % 64); }
  void clear(uint64_t seq) { bits_[(seq % kWindow) / 64] &= ~(uint64_t{1} << (seq % 64)); }
  // Moves one past the highest to `to`, counting what leaves the window unseen; returns it.
  uint64_t advance(uint64_t to);

  std::vector<uint64_t> bits_;
  uint64_t next_ = 0;  // one past the highest seen: the window is [next_ - kWindow, next_)
  uint64_t received_ = 0;
  uint64_t duplicated_ = 0;
  uint64_t reordered_ = 0;
  uint64_t late_ = 0;
  uint64_t lost_ = 0;
  bool have_transit_ = false;
  uint64_t last_transit_ = 0;
  double jitter_ = 0;
};

}  // namespace portd::load
