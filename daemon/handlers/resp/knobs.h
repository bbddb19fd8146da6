#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace portd::handlers::resp {

// Probabilities in parts per million: "2.5" percent is 25000.
inline constexpr uint32_t kPpm = 1'000'000;

// Faults a listener injects into its answers, each command drawing once per knob, to test how
// clients cope: a late reply, an error reply instead of the command, a connection closed
// before the reply.
struct FaultKnobs {
  uint64_t delay_ms = 0;
  uint32_t delay_ppm = 0;
  uint32_t error_ppm = 0;
  std::string error_reply = "ERR injected fault";  // without '-' and CRLF
  uint32_t close_ppm = 0;
  uint64_t seed = 0;  // 0: a different sequence on each worker and each start

  bool any() const { return delay_ppm != 0 || error_ppm != 0 || close_ppm != 0; }
};

// Parses a percentage such as "10", "2.5" or "0.0001" (at most four decimals, at most 100)
// into ppm. False when it is not one.
bool parsePercent(std::string_view text, uint32_t* ppm);

// xorshift64*: a few instructions per draw, one per worker, so that drawing touches no shared
// cache line and takes no lock.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed != 0 ? seed : 0x9E3779B97F4A7C15ull) {}
  // Whether an event of probability `ppm` happens now.
  bool chance(uint32_t ppm) {
    if (ppm == 0) {
      return false;
    }
    return static_cast<uint32_t>(((next() >> 32) * kPpm) >> 32) < ppm;
  }

 private:
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  uint64_t state_;
};

}  // namespace portd::handlers::resp
