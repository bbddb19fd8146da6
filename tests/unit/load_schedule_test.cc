// The open model's arrival schedule of `portd load` (load/schedule.h) and the --stages syntax.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "load/schedule.h"

namespace portd::load {
namespace {

// Arrivals a stage of `seconds` ramping from r0 to r1 has had after `tau` seconds: the integral
// of the rate, computed here independently of Schedule.
double arrivalsAfter(double r0, double r1, double seconds, double tau) {
  return r0 * tau + (r1 - r0) * tau * tau / (2 * seconds);
}

// Checks that due times never go backwards, start at 0 and stay within the schedule.
void expectMonotonic(const Schedule& s) {
  ASSERT_GT(s.total(), 0u);
  EXPECT_EQ(s.due(0), 0.0);
  double last = 0;
  for (uint64_t k = 1; k < s.total(); ++k) {
    const double d = s.due(k);
    ASSERT_GE(d, last) << "request " << k;
    ASSERT_LE(d, s.seconds()) << "request " << k;
    last = d;
  }
}

TEST(LoadSchedule, HoldIsDueAtExactMultiplesOfTheInterval) {
  const Schedule s({{10, 1000, 1000}});
  EXPECT_EQ(s.total(), 10000u);
  EXPECT_EQ(s.seconds(), 10.0);
  // Exact equality on purpose: a hold must not accumulate rounding over a long run, or the
  // last requests of an hour at 100k/s would drift away from their intended times.
  for (uint64_t k = 0; k < s.total(); ++k) {
    ASSERT_EQ(s.due(k), static_cast<double>(k) / 1000.0) << "request " << k;
  }
  EXPECT_LT(s.due(s.total()), 0);
  EXPECT_LT(s.due(s.total() + 12345), 0);
}

TEST(LoadSchedule, FractionalRateHold) {
  // 0.5/s for a minute: one request every two seconds.
  const Schedule s({{60, 0.5, 0.5}});
  ASSERT_EQ(s.total(), 30u);
  for (uint64_t k = 0; k < s.total(); ++k) {
    EXPECT_EQ(s.due(k), 2.0 * static_cast<double>(k)) << "request " << k;
  }
}

TEST(LoadSchedule, AFractionOfAnArrivalLeft) {
  // 1.5 s at 1/s: arrivals reach 0 at the start and 1 at 1 s, so two requests; the half
  // arrival at the end reaches no further whole number.
  const Schedule s({{1.5, 1, 1}});
  EXPECT_EQ(s.total(), 2u);
  EXPECT_EQ(s.due(0), 0.0);
  EXPECT_EQ(s.due(1), 1.0);
  EXPECT_LT(s.due(2), 0);
  // 1 s ramping 0 -> 3/s: 1.5 arrivals, the first at 0, the second when 1.5 t^2 reaches 1.
  const Schedule ramp({{1, 0, 3}});
  EXPECT_EQ(ramp.total(), 2u);
  EXPECT_NEAR(ramp.due(1), std::sqrt(2.0 / 3.0), 1e-12);
}

TEST(LoadSchedule, RampUpHasAsManyArrivalsAsTheIntegral) {
  // 1000/s to 5000/s over 30 s: (1000 + 5000) / 2 * 30 requests.
  const Schedule s({{30, 1000, 5000}});
  EXPECT_EQ(s.total(), 90000u);
  expectMonotonic(s);
  // Request k is due when k arrivals have happened.
  for (uint64_t k = 0; k < s.total(); k += 997) {
    EXPECT_NEAR(arrivalsAfter(1000, 5000, 30, s.due(k)), static_cast<double>(k), 1e-6)
        << "request " << k;
  }
  // In the first half of the ramp: 1000 * 15 + 4000 / 30 * 15^2 / 2 = 30000 requests.
  uint64_t first_half = 0;
  while (s.due(first_half) < 15.0) {
    ++first_half;
  }
  EXPECT_EQ(first_half, 30000u);
  EXPECT_DOUBLE_EQ(s.rateAt(0), 1000);
  EXPECT_DOUBLE_EQ(s.rateAt(15), 3000);
}

TEST(LoadSchedule, RampDownHasAsManyArrivalsAsTheIntegral) {
  const Schedule s({{20, 3000, 1000}});
  EXPECT_EQ(s.total(), 40000u);
  expectMonotonic(s);
  for (uint64_t k = 0; k < s.total(); k += 1009) {
    EXPECT_NEAR(arrivalsAfter(3000, 1000, 20, s.due(k)), static_cast<double>(k), 1e-6)
        << "request " << k;
  }
}

TEST(LoadSchedule, RampFromZeroStartsAtZero) {
  // 0 to 1000/s over 10 s: 5000 requests, request k due at sqrt(k / 50) (k = 50 t^2).
  const Schedule s({{10, 0, 1000}});
  EXPECT_EQ(s.total(), 5000u);
  expectMonotonic(s);
  for (uint64_t k = 0; k < s.total(); k += 101) {
    EXPECT_NEAR(s.due(k), std::sqrt(static_cast<double>(k) / 50.0), 1e-9) << "request " << k;
  }
}

TEST(LoadSchedule, PauseBetweenTwoHoldsSendsNothing) {
  const Schedule s({{10, 100, 100}, {5, 0, 0}, {10, 100, 100}});
  EXPECT_EQ(s.total(), 2000u);
  EXPECT_EQ(s.seconds(), 25.0);
  expectMonotonic(s);
  EXPECT_DOUBLE_EQ(s.due(999), 9.99);
  // The first request after the pause is due exactly when the pause ends.
  EXPECT_DOUBLE_EQ(s.due(1000), 15.0);
  EXPECT_DOUBLE_EQ(s.due(1001), 15.01);
  EXPECT_DOUBLE_EQ(s.due(1999), 24.99);
  for (uint64_t k = 0; k < s.total(); ++k) {
    const double d = s.due(k);
    ASSERT_FALSE(d > 10.0 && d < 15.0) << "request " << k << " due during the pause at " << d;
  }
  EXPECT_EQ(s.rateAt(12), 0);
  EXPECT_EQ(s.rateAt(20), 100);
}

TEST(LoadSchedule, OnlyPausesHaveNoRequests) {
  const Schedule one({{10, 0, 0}});
  EXPECT_EQ(one.total(), 0u);
  EXPECT_LT(one.due(0), 0);
  const Schedule two({{10, 0, 0}, {5, 0, 0}});
  EXPECT_EQ(two.total(), 0u);
  EXPECT_EQ(two.seconds(), 15.0);
  EXPECT_LT(two.due(0), 0);
}

TEST(LoadSchedule, StagesFollowEachOther) {
  // 1 s at 10/s, then a ramp 10 -> 30 over 1 s (20 requests), then 1 s at 30/s.
  const Schedule s({{1, 10, 10}, {1, 10, 30}, {1, 30, 30}});
  EXPECT_EQ(s.total(), 60u);
  expectMonotonic(s);
  EXPECT_DOUBLE_EQ(s.due(9), 0.9);
  EXPECT_DOUBLE_EQ(s.due(10), 1.0);
  EXPECT_DOUBLE_EQ(s.due(30), 2.0);
  EXPECT_DOUBLE_EQ(s.due(31), 2.0 + 1.0 / 30);
}

TEST(LoadStages, ParsesTheDocumentedForm) {
  std::vector<Stage> stages;
  std::string error;
  ASSERT_TRUE(parseStages("10s@1000,30s@1000-5000,60s@5000", &stages, &error)) << error;
  ASSERT_EQ(stages.size(), 3u);
  EXPECT_EQ(stages[0].seconds, 10);
  EXPECT_EQ(stages[0].from_rate, 1000);
  EXPECT_EQ(stages[0].to_rate, 1000);
  EXPECT_EQ(stages[1].seconds, 30);
  EXPECT_EQ(stages[1].from_rate, 1000);
  EXPECT_EQ(stages[1].to_rate, 5000);
  EXPECT_EQ(stages[2].seconds, 60);
  EXPECT_EQ(stages[2].from_rate, 5000);
  EXPECT_EQ(stages[2].to_rate, 5000);
}

TEST(LoadStages, ParsesFractionalRatesUnitsAndPauses) {
  std::vector<Stage> stages;
  std::string error;
  ASSERT_TRUE(parseStages("1m@0.5", &stages, &error)) << error;
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_EQ(stages[0].seconds, 60);
  EXPECT_EQ(stages[0].from_rate, 0.5);
  EXPECT_EQ(stages[0].to_rate, 0.5);

  ASSERT_TRUE(parseStages("250ms@100/s,1m30s@0,5s@0-200", &stages, &error)) << error;
  ASSERT_EQ(stages.size(), 3u);
  EXPECT_EQ(stages[0].seconds, 0.25);
  EXPECT_EQ(stages[0].from_rate, 100);
  EXPECT_EQ(stages[1].seconds, 90);
  EXPECT_EQ(stages[1].from_rate, 0);
  EXPECT_EQ(stages[1].to_rate, 0);
  EXPECT_EQ(stages[2].from_rate, 0);
  EXPECT_EQ(stages[2].to_rate, 200);
}

TEST(LoadStages, RefusesMalformedStagesWithAMessage) {
  for (const char* bad : {
           "",                // nothing
           "10s",             // no @
           "1000",            // no @
           "10s@",            // no rate
           "@1000",           // no duration
           "10@1000",         // a duration needs a unit
           "10x@1000",        // unknown unit
           "0s@1000",         // a stage must last
           "-1s@1000",        // negative duration
           "10s@-5",          // negative rate
           "10s@1000--5",     // negative end of a ramp
           "10s@1000-",       // ramp without its end
           "10s@abc",         // not a number
           "10s@1e10",        // above 1e9
           "10s@nan",         // not finite
           "10s@1000,,5s@1",  // an empty stage
           "10s@1000;5s@1",   // wrong separator
           "garbage",
       }) {
    std::vector<Stage> stages = {{1, 2, 3}};
    std::string error;
    EXPECT_FALSE(parseStages(bad, &stages, &error)) << '"' << bad << '"';
    EXPECT_FALSE(error.empty()) << '"' << bad << '"';
    // A refused text leaves what the caller had.
    ASSERT_EQ(stages.size(), 1u) << '"' << bad << '"';
    EXPECT_EQ(stages[0].seconds, 1) << '"' << bad << '"';
  }
}

TEST(LoadStages, ErrorNamesTheStage) {
  std::vector<Stage> stages;
  std::string error;
  EXPECT_FALSE(parseStages("10s@100,5s@oops", &stages, &error));
  EXPECT_NE(error.find("5s@oops"), std::string::npos) << error;
}

}  // namespace
}  // namespace portd::load
