#pragma once

#include <cstdint>
#include <string_view>

// Fault knobs: each is a probability, drawn per answer from a generator of the instance's own.
namespace portd::handlers::dns {

// Probabilities in parts per million, as the http handler's knobs keep them.
inline constexpr uint32_t kPpm = 1'000'000;

// "0", "0.25", "1", "1.0" (a fraction, at most six decimals) or "2.5%" (a percentage, at most
// four decimals) into ppm; false when the text is none of these or above 1 (100%).
bool parseProbability(std::string_view text, uint32_t* ppm);

// xorshift64* (Vigna): a few instructions per draw, no lock, one per worker, seeded per
// instance so that workers draw different sequences.
class Xorshift64 {
 public:
  explicit Xorshift64(uint64_t seed) : state_(seed != 0 ? seed : 0x9E3779B97F4A7C15ull) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  // True with probability ppm / 1e6; no draw at all for 0, so knobs that are off cost nothing.
  bool chance(uint32_t ppm) {
    if (ppm == 0) {
      return false;
    }
    return static_cast<uint32_t>(((next() >> 32) * kPpm) >> 32) < ppm;
  }

 private:
  uint64_t state_;
};

struct Knobs {
  uint32_t drop_ppm = 0;      // no answer at all
  uint32_t servfail_ppm = 0;  // SERVFAIL instead of the answer
  uint32_t truncate_ppm = 0;  // TC=1 over UDP, so that the client asks again over TCP
  uint32_t delay_ppm = 0;     // the answer leaves delay_ms later
  uint64_t delay_ms = 0;
};

}  // namespace portd::handlers::dns
