#pragma once

#include <time.h>

#include <cstdint>
#include <string_view>

namespace portd::handlers::http {

// The "Date: ...\r\n" header line of the current second, formatted at most once a second. One
// per worker: the clock is read and the line formatted only when the loop's time passes the
// next wall-clock second, not per response.
class DateCache {
 public:
  // Reads the wall clock; tests pass their own.
  using WallClock = timespec (*)();
  static timespec realWallClock();

  explicit DateCache(WallClock clock = &realWallClock) : clock_(clock) {}

  // `now_ms` is the loop's time (uv_now()); it only decides when to look at the wall clock.
  std::string_view line(uint64_t now_ms) {
    if (len_ == 0 || now_ms >= next_refresh_ms_) {
      refresh(now_ms);
    }
    return std::string_view(buf_, len_);
  }
  // How many times the line was formatted (for tests).
  uint64_t refreshes() const { return refreshes_; }

  // Formats `unix_seconds` as an IMF-fixdate header line ("Date: Sun, 06 Nov 1994 08:49:37
  // GMT\r\n") into `out`, which needs kLineSize bytes; returns the length.
  static constexpr size_t kLineSize = 40;
  static size_t format(int64_t unix_seconds, char* out);

 private:
  void refresh(uint64_t now_ms);

  WallClock clock_;
  char buf_[kLineSize];
  size_t len_ = 0;
  uint64_t next_refresh_ms_ = 0;
  uint64_t refreshes_ = 0;
};

}  // namespace portd::handlers::http
