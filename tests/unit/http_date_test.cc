#include <gtest/gtest.h>

#include <cstdio>

#include "handlers/http/date_cache.h"

using namespace portd::handlers::http;

namespace {

// A wall clock that moves with the test's loop time: 1994-11-06 08:49:37.250 at loop time 0.
uint64_t g_loop_ms = 0;
timespec fakeWallClock() {
  uint64_t ms = 784111777250 + g_loop_ms;
  return timespec{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000};
}

}  // namespace

TEST(HttpDate, FormatsImfFixdate) {
  char buf[DateCache::kLineSize];
  size_t n = DateCache::format(784111777, buf);  // RFC 9110's example instant
  EXPECT_EQ(std::string(buf, n), "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
  n = DateCache::format(0, buf);
  EXPECT_EQ(std::string(buf, n), "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
}

TEST(HttpDate, FormattedOnceASecondAndOnTheSecond) {
  DateCache cache(&fakeWallClock);
  g_loop_ms = 0;
  EXPECT_EQ(cache.line(g_loop_ms), "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
  // A response every millisecond for ten seconds: one format per wall-clock second.
  for (g_loop_ms = 1; g_loop_ms < 10'000; ++g_loop_ms) {
    std::string_view line = cache.line(g_loop_ms);
    // The line changes when the wall clock's second does (at loop time 750, 1750, ...).
    const uint64_t second = 37 + (g_loop_ms + 250) / 1000;
    char expected[3];
    std::snprintf(expected, sizeof expected, "%02u", static_cast<unsigned>(second));
    ASSERT_EQ(line.substr(29, 2), expected) << "at loop time " << g_loop_ms << ": " << line;
  }
  EXPECT_EQ(cache.refreshes(), 11u);
}

TEST(HttpDate, RealClockLine) {
  DateCache cache;
  std::string_view line = cache.line(0);
  EXPECT_TRUE(line.starts_with("Date: "));
  EXPECT_TRUE(line.ends_with(" GMT\r\n"));
  EXPECT_EQ(line.size(), 37u);
}
