#include "handlers/http/date_cache.h"

#include <cstdio>

namespace portd::handlers::http {

size_t DateCache::format(int64_t unix_seconds, char* out) {
  // Names spelled out rather than strftime's %a and %b, which follow the locale.
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  int n = std::snprintf(out, kLineSize, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                        kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12],
                        tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return n > 0 && static_cast<size_t>(n) < kLineSize ? static_cast<size_t>(n) : 0;
}

timespec DateCache::realWallClock() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

void DateCache::refresh(uint64_t now_ms) {
  const timespec ts = clock_();
  len_ = format(ts.tv_sec, buf_);
  ++refreshes_;
  // Look again when the wall clock reaches its next second, as measured on the loop's clock.
  next_refresh_ms_ = now_ms + 1000 - static_cast<uint64_t>(ts.tv_nsec / 1000000);
}

}  // namespace portd::handlers::http
