#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "load/codec.h"

namespace portd::load {

// udp://: every datagram starts with this header (little-endian), the rest is padding up to
// the message size; the target sends it back as it came (an echo).
//
//   0  magic "PDLG"            4 bytes
//   4  header version (1)      4 bytes
//   8  sequence number         8 bytes, from 0, per generator thread
//  16  intended send time, ns  8 bytes, the generator's monotonic clock
//  24  actual send time, ns    8 bytes
//
// Sequence numbers and both times travel in the datagram, so that an answer needs no state to
// be matched and a target that reorders or duplicates shows it.
inline constexpr size_t kDatagramHeader = 32;

struct DatagramHeader {
  uint64_t seq = 0;
  uint64_t intended_ns = 0;
  uint64_t sent_ns = 0;
};

// Writes the header into the first kDatagramHeader bytes of `out`.
void writeDatagramHeader(char* out, const DatagramHeader& h);
// Reads one; false if `in` is too short or not ours.
bool readDatagramHeader(std::string_view in, DatagramHeader* h);

// udp://: datagrams of `size` bytes (at least the header) that the target echoes.
class EchoDatagramCodec final : public DatagramCodec {
 public:
  explicit EchoDatagramCodec(size_t size)
      : size_(size < kDatagramHeader ? kDatagramHeader : size) {}
  size_t request(char* buf, size_t capacity, uint64_t seq, uint64_t intended_ns,
                 uint64_t sent_ns) override;
  bool answer(std::string_view in, uint64_t* seq, int* status) override;

 private:
  size_t size_;
};

// Which datagrams were answered: fixed memory (a window of the last `window` sequence numbers),
// so that an answer is classed as first, duplicate, or late (after its request was counted
// lost), and an answer below the highest number seen so far as reordered.
class DatagramTracker {
 public:
  enum class Answer { kFirst, kDuplicate, kLate, kUnknown };

  explicit DatagramTracker(size_t window = 1 << 16);

  // Datagram `seq` was meant for `intended_ns` and sent at `sent_ns`. Returns 1 when it pushed
  // out of the window one that was still waiting (lost), else 0.
  uint64_t sent(uint64_t seq, uint64_t intended_ns, uint64_t sent_ns);
  // Its answer came at `now_ns`; for a first answer, its times are in *intended_ns, *sent_ns.
  Answer answered(uint64_t seq, uint64_t now_ns, uint64_t* intended_ns, uint64_t* sent_ns);
  // The most recent sequence number sent whose low `bits` bits are `low` (protocols whose
  // answers carry only part of it, such as DNS's 16-bit ID).
  uint64_t fromLowBits(uint64_t low, unsigned bits) const;
  // Counts as lost every datagram sent before `before_ns` and not answered; returns how many.
  uint64_t expire(uint64_t before_ns);
  // Every outstanding one is lost (the end of a run).
  uint64_t expireAll() { return expire(UINT64_MAX); }

  uint64_t outstanding() const { return outstanding_; }
  size_t window() const { return slots_.size(); }
  uint64_t reordered() const { return reordered_; }
  // RFC 3550's interarrival jitter (its section 6.4.1, A.8) of the round trips, in ns.
  double jitterNs() const { return jitter_; }

 private:
  struct Slot {
    uint64_t seq = UINT64_MAX;
    uint64_t intended_ns = 0;
    uint64_t sent_ns = 0;
    bool waiting = false;   // sent, not answered, not expired
    bool answered = false;  // answered at least once
  };
  Slot& slot(uint64_t seq) { return slots_[seq & mask_]; }

  std::vector<Slot> slots_;
  uint64_t mask_;
  uint64_t outstanding_ = 0;
  uint64_t oldest_ = 0;  // every seq below it is answered or expired
  uint64_t next_ = 0;    // one past the highest sent
  uint64_t highest_answered_ = 0;
  bool any_answered_ = false;
  uint64_t reordered_ = 0;
  // Jitter: the transit time (round trip) of the previous answer.
  int64_t last_transit_ = 0;
  bool have_transit_ = false;
  double jitter_ = 0;
};

}  // namespace portd::load
