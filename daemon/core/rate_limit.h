#pragma once

#include <cstdint>

namespace portd::core {

// Allows one event per interval and counts the ones it held back, for log lines that a flood
// (accept errors, rejected connections) must not turn into a flood of their own.
class RateLimit {
 public:
  explicit RateLimit(uint64_t interval_ms = 1000) : interval_ms_(interval_ms) {}

  // True when an event at `now_ms` may be reported. `suppressed` then holds how many were held
  // back since the previous report.
  bool allow(uint64_t now_ms, uint64_t* suppressed) {
    if (reported_ && now_ms - last_ms_ < interval_ms_) {
      ++held_back_;
      return false;
    }
    reported_ = true;
    last_ms_ = now_ms;
    *suppressed = held_back_;
    held_back_ = 0;
    return true;
  }

 private:
  uint64_t interval_ms_;
  uint64_t last_ms_ = 0;
  uint64_t held_back_ = 0;
  bool reported_ = false;
};

}  // namespace portd::core
