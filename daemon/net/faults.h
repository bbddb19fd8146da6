#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace portd::net {

// Faults a listener injects on purpose ([listener.faults]), under whatever handler it serves,
// so that a client can be tested against a network that loses, duplicates, reorders, delays,
// resets and throttles. Off unless configured. Probabilities are kept in parts per million, so
// that draws are integer compares and two settings compare exactly.
struct FaultDelay {
  uint32_t ms = 0;
  uint32_t per_million = 0;
  bool operator==(const FaultDelay&) const = default;
};

struct FaultSettings {
  static constexpr uint32_t kMillion = 1000000;

  uint64_t seed = 0;  // 0: from the clock at start-up
  // UDP: datagrams dropped before the handler; replies sent twice; replies held back and sent
  // after the next one.
  uint32_t udp_drop = 0;
  uint32_t udp_duplicate = 0;
  uint32_t udp_reorder = 0;
  // Each read (TCP) or datagram (UDP) waits this long before the handler gets it, with these
  // probabilities ("5ms:10,50ms:1": 10 % wait 5 ms, 1 % wait 50 ms).
  std::vector<FaultDelay> delay;
  // TCP: the connection is reset (RST) once this many bytes were read from the peer or written
  // to it; the handler gets at most that many, and so does the peer. 0: never.
  uint64_t reset_after_bytes = 0;
  // TCP, bytes per second per connection; 0: unlimited. A slow writer (what the handler writes
  // leaves at this rate) and a slow reader (the peer's bytes are read at this rate, so that it
  // sees the window close).
  uint64_t write_rate = 0;
  uint64_t read_rate = 0;
  // TCP: the handshake completes at once, the first read waits this long.
  uint32_t accept_delay_ms = 0;

  bool any() const {
    return udp_drop || udp_duplicate || udp_reorder || !delay.empty() || reset_after_bytes ||
           write_rate || read_rate || accept_delay_ms;
  }
  bool operator==(const FaultSettings&) const = default;
};

// What was injected, by kind: the label of portd_faults_injected_total.
enum class FaultKind : size_t {
  kUdpDrop,
  kUdpDuplicate,
  kUdpReorder,
  kDelay,
  kReset,
  kAcceptDelay,
  kReadThrottle,   // reading paused to hold read_rate
  kWriteThrottle,  // output held back to hold write_rate
  kDelayOverflow,  // a datagram that should have been delayed found the delay store full
};
inline constexpr size_t kFaultKinds = 9;
inline constexpr std::array<const char*, kFaultKinds> kFaultKindNames = {
    "udp_drop",     "udp_duplicate", "udp_reorder",    "delay",         "reset",
    "accept_delay", "read_throttle", "write_throttle", "delay_overflow"};

// The draws of one socket or connection: splitmix64, so that a seed gives the same sequence of
// decisions every time (the same datagrams lost for the same seed and the same traffic).
class FaultDice {
 public:
  explicit FaultDice(uint64_t seed = 0) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // True with probability per_million / 10^6. Draws nothing for 0, so that faults that are off
  // do not move the sequence of the others.
  bool chance(uint32_t per_million) {
    return per_million != 0 && (next() >> 32) * FaultSettings::kMillion >> 32 < per_million;
  }
  // The delay drawn from a list (0: none).
  uint32_t delayMs(const std::vector<FaultDelay>& list) {
    if (list.empty()) {
      return 0;
    }
    const uint64_t roll = (next() >> 32) * FaultSettings::kMillion >> 32;
    uint64_t edge = 0;
    for (const FaultDelay& d : list) {
      edge += d.per_million;
      if (roll < edge) {
        return d.ms;
      }
    }
    return 0;
  }

 private:
  uint64_t state_;
};

// A token bucket in bytes for write_rate and read_rate: `rate` bytes a second, at most
// `burst` at once. Time in nanoseconds.
class ByteBucket {
 public:
  void reset(uint64_t rate, uint64_t now_ns) {
    rate_ = rate;
    // A twentieth of a second's worth, at least one small segment: bursts short enough that a
    // rate holds within a few percent over a second.
    burst_ = rate / 20 < 512 ? 512 : rate / 20;
    tokens_ = burst_;
    last_ns_ = now_ns;
  }
  bool enabled() const { return rate_ != 0; }
  // Bytes that may go now.
  uint64_t available(uint64_t now_ns) {
    refill(now_ns);
    return tokens_;
  }
  void take(uint64_t n) { tokens_ = n > tokens_ ? 0 : tokens_ - n; }
  // Nanoseconds until `n` bytes (at most a burst) are available.
  uint64_t waitNs(uint64_t n) const {
    if (n > burst_) {
      n = burst_;
    }
    if (tokens_ >= n) {
      return 0;
    }
    return (n - tokens_) * 1000000000ull / rate_ + 1;
  }
  uint64_t burst() const { return burst_; }

 private:
  void refill(uint64_t now_ns) {
    if (now_ns <= last_ns_) {
      return;
    }
    if (now_ns - last_ns_ >= 1000000000ull) {
      tokens_ = burst_;  // a second idle fills any bucket (and keeps the product below in range)
      last_ns_ = now_ns;
      return;
    }
    const uint64_t add = (now_ns - last_ns_) * rate_ / 1000000000ull;
    if (add == 0) {
      return;  // keep last_ns_, so that fractions add up
    }
    tokens_ = tokens_ + add > burst_ ? burst_ : tokens_ + add;
    last_ns_ += add * 1000000000ull / rate_;
  }

  uint64_t rate_ = 0;
  uint64_t burst_ = 0;
  uint64_t tokens_ = 0;
  uint64_t last_ns_ = 0;
};

// One connection's share of the faults: allocated only on a listener that injects some.
struct ConnectionFaults {
  uint32_t generation = 0;  // of the listener's faults these were made from
  FaultDice dice;
  ByteBucket read;
  ByteBucket write;
  uint64_t bytes_in = 0;  // counted for reset_after_bytes
  uint64_t bytes_out = 0;
  uint64_t resume_timer = 0;    // reading paused by a fault resumes when it fires
  uint64_t resume_at_ms = 0;    // on the loop's clock
  bool pacing = false;          // a timer will send more output when write_rate allows
  bool reset_due = false;       // reset once what was read has been handled
  bool reset_on_flush = false;  // reset once what was written has left
};

}  // namespace portd::net
