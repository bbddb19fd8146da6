#include "config/duration.h"

#include <gtest/gtest.h>

using namespace portd::config;
using namespace std::chrono_literals;

TEST(Duration, ParsesUnits) {
  std::string error;
  EXPECT_EQ(parseDuration("250ms", &error), Duration(250));
  EXPECT_EQ(parseDuration("10s", &error), Duration(10s));
  EXPECT_EQ(parseDuration("2m", &error), Duration(2min));
  EXPECT_EQ(parseDuration("1h", &error), Duration(1h));
  EXPECT_EQ(parseDuration("1m30s", &error), Duration(90s));
  EXPECT_EQ(parseDuration("0s", &error), Duration(0));
}

TEST(Duration, RejectsBadText) {
  for (const char* bad :
       {"", "10", "s", "-1s", "1.5s", "10 s", "10sec", "1d", "ms10", "99999999999999999999h"}) {
    std::string error;
    EXPECT_FALSE(parseDuration(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(Duration, FormatRoundTrips) {
  for (const char* text : {"0s", "250ms", "10s", "1m30s", "2h", "1h1m1s1ms"}) {
    std::string error;
    auto d = parseDuration(text, &error);
    ASSERT_TRUE(d) << text;
    EXPECT_EQ(formatDuration(*d), text);
  }
}

TEST(Size, ParsesUnits) {
  std::string error;
  EXPECT_EQ(parseSize("65536", &error), 65536u);
  EXPECT_EQ(parseSize("64KiB", &error), 65536u);
  EXPECT_EQ(parseSize("1MiB", &error), 1u << 20);
  EXPECT_EQ(parseSize("2GiB", &error), 2ull << 30);
  EXPECT_EQ(parseSize("7B", &error), 7u);
  for (const char* bad : {"", "KiB", "1kb", "1 MiB", "-1", "99999999999GiB"}) {
    EXPECT_FALSE(parseSize(bad, &error)) << bad;
  }
}

// A size is at most INT64_MAX, as one written as an integer is, so that it prints as a TOML
// integer that reads back as the same value.
TEST(Size, IsAtMostInt64Max) {
  std::string error;
  EXPECT_EQ(parseSize("9223372036854775807", &error), 9223372036854775807ull);
  EXPECT_EQ(parseSize("8589934591GiB", &error), 8589934591ull << 30);
  for (const char* bad : {"9223372036854775808", "8589934592GiB", "18446744073709551615"}) {
    EXPECT_FALSE(parseSize(bad, &error)) << bad;
    EXPECT_NE(error.find("too large"), std::string::npos) << error;
  }
}

TEST(FineDuration, ParsesMicroseconds) {
  std::string error;
  EXPECT_EQ(parseFineDuration("50us", &error), std::chrono::microseconds(50));
  EXPECT_EQ(parseFineDuration("1ms", &error), std::chrono::microseconds(1000));
  EXPECT_EQ(parseFineDuration("1ms500us", &error), std::chrono::microseconds(1500));
  EXPECT_EQ(parseFineDuration("2s", &error), std::chrono::microseconds(2'000'000));
  EXPECT_EQ(parseFineDuration("0us", &error), std::chrono::microseconds(0));
  for (const char* bad : {"", "50", "us", "50 us", "1m", "-1us", "99999999999999999999us"}) {
    EXPECT_FALSE(parseFineDuration(bad, &error)) << bad;
    EXPECT_FALSE(error.empty());
  }
  // The coarse durations keep refusing a unit below the millisecond.
  EXPECT_FALSE(parseDuration("50us", &error));
}
