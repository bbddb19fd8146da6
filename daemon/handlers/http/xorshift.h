#pragma once

#include <cstdint>

namespace portd::handlers::http {

// xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift generators"): a few
// instructions per number and statistically good enough for choosing test responses. Each
// worker owns one, so that drawing a number touches no shared cache line and takes no lock.
class Xorshift64 {
 public:
  explicit Xorshift64(uint64_t seed) : state_(seed != 0 ? seed : 0x9E3779B97F4A7C15ull) {}

  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }

  // Uniform in [0, bound): the high 32 bits (the best ones of xorshift64*) scaled by a multiply
  // and a shift rather than a modulo, so there is no division and no bias worth the name.
  uint32_t below(uint32_t bound) { return static_cast<uint32_t>(((next() >> 32) * bound) >> 32); }

 private:
  uint64_t state_;
};

}  // namespace portd::handlers::http
