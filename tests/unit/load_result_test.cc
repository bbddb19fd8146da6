// The results of `portd load` as JSON (load/result_json.h): what is written is read back
// exactly, merging adds runs without loss, and input that is not a result is refused.

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "load/result_json.h"
#include "load/results.h"

namespace portd::load {
namespace {

using nlohmann::json;

// Compares two histograms index by index and says where they first differ.
::testing::AssertionResult sameCounts(const Histogram& a, const Histogram& b) {
  if (a.lowest() != b.lowest() || a.highest() != b.highest() || a.digits() != b.digits()) {
    return ::testing::AssertionFailure() << "the layouts differ";
  }
  if (a.totalCount() != b.totalCount()) {
    return ::testing::AssertionFailure()
           << "total count " << a.totalCount() << " vs " << b.totalCount();
  }
  for (int32_t i = 0; i < a.layout().countsLength(); ++i) {
    if (a.countAtIndex(i) != b.countAtIndex(i)) {
      return ::testing::AssertionFailure()
             << "index " << i << " (value " << a.layout().valueAt(i) << "): " << a.countAtIndex(i)
             << " vs " << b.countAtIndex(i);
    }
  }
  if (!(a == b)) {
    return ::testing::AssertionFailure() << "equal counts, yet operator== says they differ";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult sameHistograms(const Histograms& a, const Histograms& b) {
  const std::pair<const char*, const Histogram Histograms::*> all[] = {
      {"corrected", &Histograms::corrected},
      {"uncorrected", &Histograms::uncorrected},
      {"connect", &Histograms::connect},
      {"first_byte", &Histograms::first_byte},
      {"lag", &Histograms::lag},
  };
  for (const auto& [name, member] : all) {
    ::testing::AssertionResult r = sameCounts(a.*member, b.*member);
    if (!r) {
      return ::testing::AssertionFailure() << name << ": " << r.message();
    }
  }
  return ::testing::AssertionSuccess();
}

void expectSameCounters(const Counters& a, const Counters& b) {
  EXPECT_EQ(a.sent, b.sent);
  EXPECT_EQ(a.completed, b.completed);
  EXPECT_EQ(a.bytes_out, b.bytes_out);
  EXPECT_EQ(a.bytes_in, b.bytes_in);
  EXPECT_EQ(a.connections, b.connections);
  for (size_t i = 0; i < a.errors.size(); ++i) {
    EXPECT_EQ(a.errors[i], b.errors[i]) << errorName(static_cast<ErrorKind>(i));
  }
  for (size_t i = 0; i < a.status.size(); ++i) {
    EXPECT_EQ(a.status[i], b.status[i]) << "status class " << i;
  }
  EXPECT_EQ(a.duplicates, b.duplicates);
  EXPECT_EQ(a.reordered, b.reordered);
  EXPECT_EQ(a.late, b.late);
}

// Values spread over the whole range of the default layout, from 0 to its highest (1 h), and
// some repeated, so that runs of zeros, large counts and the last buckets all take part.
std::vector<int64_t> valuesA() {
  std::vector<int64_t> v = {
      0, 1, 2, 999, 1000, 1001, 2047, 2048, 65535, 1'000'000, Histogram::kDefaultHighest};
  for (int64_t x = 3; x < 5'000'000; x = x * 7 / 5 + 1) {
    v.push_back(x);
  }
  return v;
}

std::vector<int64_t> valuesB() {
  std::vector<int64_t> v = {1, 1, 1, 5, 500'000, 900'000'000, Histogram::kDefaultHighest - 1};
  for (int64_t x = 10; x < 3'000'000'000; x = x * 3 + 7) {
    v.push_back(x);
  }
  return v;
}

// Records `values` into every histogram of a run, each differently, so that a mix-up between
// them shows.
void recordRun(Histograms& h, const std::vector<int64_t>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t v = values[i];
    h.corrected.record(v, static_cast<int64_t>(i % 5 + 1));
    h.uncorrected.record(v / 2);
    h.connect.record(v / 3, 2);
    if (i % 2 == 0) {
      h.first_byte.record(v);
    }
    h.lag.record(v / 1000);
  }
  // A run with billions of answers at one value.
  h.corrected.record(42, 5'000'000'000);
}

// A result with every field set, its histograms fed from `values` and its counters derived
// from `base`.
Result makeResult(const std::vector<int64_t>& values, uint64_t base, double start_time) {
  Result r;
  r.url = "http://127.0.0.1:8080/echo";
  r.model = "open";
  r.stages = "10s@1000,5s@1000-2000";
  r.asked_rate = 1250;
  r.schedule_seconds = 15;
  r.start_time = start_time;
  r.seconds = 15.25;
  r.threads = 2;
  r.connections = 10;
  r.pipeline = 1;
  r.sources = 1;
  r.interrupted = false;
  r.jitter_us = 12.5 + static_cast<double>(base);
  Counters& c = r.counters;
  c.sent = base + 1;
  c.completed = base + 2;
  c.bytes_out = base + 3;
  c.bytes_in = base + 4;
  c.connections = base + 5;
  for (size_t i = 0; i < c.errors.size(); ++i) {
    c.errors[i] = base + 10 + i;
  }
  for (size_t i = 0; i < c.status.size(); ++i) {
    c.status[i] = base + 30 + i;
  }
  c.duplicates = base + 40;
  c.reordered = base + 41;
  c.late = base + 42;
  recordRun(r.histograms, values);
  r.timeline = {{base + 100, 1, 250}, {base + 200, 0, 300}, {base, 7, 0}};
  return r;
}

TEST(LoadResultJson, RoundTripKeepsEverything) {
  const Result r = makeResult(valuesA(), 1000, 1'700'000'000.25);
  const std::string text = toJson(r);
  std::string error;
  std::optional<Result> back = fromJson(text, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->url, r.url);
  EXPECT_EQ(back->model, r.model);
  EXPECT_EQ(back->stages, r.stages);
  EXPECT_EQ(back->asked_rate, r.asked_rate);
  EXPECT_EQ(back->schedule_seconds, r.schedule_seconds);
  EXPECT_EQ(back->start_time, r.start_time);
  EXPECT_EQ(back->seconds, r.seconds);
  EXPECT_EQ(back->threads, r.threads);
  EXPECT_EQ(back->connections, r.connections);
  EXPECT_EQ(back->pipeline, r.pipeline);
  EXPECT_EQ(back->sources, r.sources);
  EXPECT_EQ(back->interrupted, r.interrupted);
  EXPECT_EQ(back->jitter_us, r.jitter_us);
  expectSameCounters(back->counters, r.counters);
  EXPECT_TRUE(sameHistograms(back->histograms, r.histograms));
  ASSERT_EQ(back->timeline.size(), r.timeline.size());
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    EXPECT_EQ(back->timeline[i].completed, r.timeline[i].completed) << i;
    EXPECT_EQ(back->timeline[i].errors, r.timeline[i].errors) << i;
    EXPECT_EQ(back->timeline[i].p99_us, r.timeline[i].p99_us) << i;
  }
  // Written again, it is the same text: nothing was lost or added on the way.
  EXPECT_EQ(toJson(*back), text);
}

TEST(LoadResultJson, RoundTripOfAnInterruptedClosedRunWithEmptyHistograms) {
  Result r;
  r.url = "udp://[::1]:9";
  r.model = "closed";
  r.interrupted = true;
  r.threads = 1;
  r.seconds = 0.5;
  r.counters.error(ErrorKind::kConnectRefused) = 3;
  std::string error;
  std::optional<Result> back = fromJson(toJson(r), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->model, "closed");
  EXPECT_TRUE(back->interrupted);
  EXPECT_EQ(back->url, r.url);
  expectSameCounters(back->counters, r.counters);
  EXPECT_TRUE(sameHistograms(back->histograms, r.histograms));
  EXPECT_EQ(back->histograms.corrected.totalCount(), 0);
  EXPECT_TRUE(back->timeline.empty());
}

TEST(LoadResultJson, PercentilesInTheJsonMatchTheHistogram) {
  const Result r = makeResult(valuesA(), 0, 1000);
  const json j = json::parse(toJson(r));
  const json& c = j["latency"]["corrected"];
  EXPECT_EQ(c["count"].get<int64_t>(), r.histograms.corrected.totalCount());
  EXPECT_EQ(c["p50_us"].get<int64_t>(), r.histograms.corrected.valueAtPercentile(50));
  EXPECT_EQ(c["p99_us"].get<int64_t>(), r.histograms.corrected.valueAtPercentile(99));
  EXPECT_EQ(c["max_us"].get<int64_t>(), r.histograms.corrected.max());
  EXPECT_EQ(j["counters"]["errors"]["connect_refused"].get<uint64_t>(),
            r.counters.errors[static_cast<size_t>(ErrorKind::kConnectRefused)]);
  EXPECT_EQ(j["counters"]["status"]["2xx"].get<uint64_t>(), r.counters.status[1]);
}

TEST(LoadResultMerge, EqualsARunThatRecordedBoth) {
  const Result a = makeResult(valuesA(), 1000, 1000.0);
  const Result b = makeResult(valuesB(), 50, 1001.0);
  // One run's histograms, recorded with the values of both.
  Histograms both;
  recordRun(both, valuesA());
  recordRun(both, valuesB());
  Counters sum = a.counters;
  sum.add(b.counters);

  // Directly, and through JSON as `portd load merge` reads its files.
  std::string error;
  std::optional<Result> ja = fromJson(toJson(a), &error);
  ASSERT_TRUE(ja) << error;
  std::optional<Result> jb = fromJson(toJson(b), &error);
  ASSERT_TRUE(jb) << error;
  for (auto [into, other] : {std::pair{a, b}, std::pair{*ja, *jb}}) {
    mergeResult(into, other);
    EXPECT_TRUE(sameHistograms(into.histograms, both));
    expectSameCounters(into.counters, sum);
    EXPECT_EQ(into.sources, 2);
    EXPECT_EQ(into.threads, 4);
    EXPECT_EQ(into.connections, 20);
    EXPECT_EQ(into.asked_rate, 2500);
    EXPECT_EQ(into.start_time, 1000.0);
    EXPECT_EQ(into.seconds, 16.25);  // from the first start to the last end
    EXPECT_EQ(into.jitter_us, 12.5 + 1000);
    EXPECT_EQ(into.url, "http://127.0.0.1:8080/echo");
  }
}

TEST(LoadResultMerge, RecordingTheUnionOfValuesGivesTheSameHistogram) {
  // Independent of Histogram::add: one histogram recorded with every value of both runs.
  Histogram ha;
  Histogram hb;
  Histogram all;
  for (int64_t v : valuesA()) {
    ha.record(v);
    all.record(v);
  }
  for (int64_t v : valuesB()) {
    hb.record(v);
    all.record(v);
  }
  Result a;
  a.model = "closed";
  a.histograms.corrected = ha;
  Result b;
  b.model = "closed";
  b.histograms.corrected = hb;
  std::string error;
  // Through JSON, as `portd load merge` reads them.
  std::optional<Result> ra = fromJson(toJson(a), &error);
  ASSERT_TRUE(ra) << error;
  std::optional<Result> rb = fromJson(toJson(b), &error);
  ASSERT_TRUE(rb) << error;
  mergeResult(*ra, *rb);
  EXPECT_TRUE(sameCounts(ra->histograms.corrected, all));
  EXPECT_EQ(ra->histograms.corrected.valueAtPercentile(99), all.valueAtPercentile(99));
  EXPECT_EQ(ra->histograms.corrected.max(), all.max());
  EXPECT_EQ(ra->histograms.corrected.min(), all.min());
}

TEST(LoadResultMerge, TimelinesAlignByStartTime) {
  Result a;
  a.model = "closed";
  a.start_time = 1000.0;
  a.seconds = 2;
  a.timeline = {{1, 0, 10}, {2, 0, 20}};
  Result b;
  b.model = "closed";
  b.start_time = 1001.0;  // one second later
  b.seconds = 3;
  b.timeline = {{10, 1, 5}, {20, 2, 30}, {30, 3, 40}};
  const std::vector<Second> expected = {{1, 0, 10}, {12, 1, 20}, {20, 2, 30}, {30, 3, 40}};

  for (bool swapped : {false, true}) {
    Result into = swapped ? b : a;
    mergeResult(into, swapped ? a : b);
    ASSERT_EQ(into.timeline.size(), expected.size()) << "swapped " << swapped;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(into.timeline[i].completed, expected[i].completed) << i << " " << swapped;
      EXPECT_EQ(into.timeline[i].errors, expected[i].errors) << i << " " << swapped;
      // The largest of the runs' p99 in that second: an upper bound of the merged one.
      EXPECT_EQ(into.timeline[i].p99_us, expected[i].p99_us) << i << " " << swapped;
    }
    EXPECT_EQ(into.start_time, 1000.0);
    EXPECT_EQ(into.seconds, 4.0);
  }
}

TEST(LoadResultMerge, InterruptedIfEitherWas) {
  Result a;
  a.model = "closed";
  Result b = a;
  b.interrupted = true;
  mergeResult(a, b);
  EXPECT_TRUE(a.interrupted);
}

// A valid result's JSON, edited by `edit`, must be refused with a message containing `says`.
void expectRefused(const std::function<void(json&)>& edit, const std::string& says) {
  json j = json::parse(toJson(makeResult(valuesA(), 1, 1000)));
  edit(j);
  std::string error;
  EXPECT_FALSE(fromJson(j.dump(), &error)) << j.dump().substr(0, 200);
  EXPECT_NE(error.find(says), std::string::npos) << "the message: " << error;
}

TEST(LoadResultJson, RefusesWhatIsNotJson) {
  for (const char* bad : {"", "not json", "{", "{\"format\": ", "[1, 2]", "42", "\"text\""}) {
    std::string error;
    EXPECT_FALSE(fromJson(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(LoadResultJson, RefusesAnotherFormat) {
  expectRefused([](json& j) { j["format"] = "portd-load-result-2"; }, "format");
  expectRefused([](json& j) { j.erase("format"); }, "format");
  expectRefused([](json& j) { j["format"] = 1; }, "format");
  expectRefused([](json& j) { j["model"] = "sideways"; }, "model");
}

TEST(LoadResultJson, RefusesBrokenHistograms) {
  expectRefused([](json& j) { j["latency"]["corrected"]["hdr"] = "!!!not base64!!!"; },
                "corrected");
  expectRefused([](json& j) { j["latency"]["uncorrected"]["hdr"] = "HISTFAAAAB"; }, "uncorrected");
  // Valid base64, not a histogram.
  expectRefused([](json& j) { j["latency"]["lag"]["hdr"] = "aGVsbG8gd29ybGQ="; }, "lag");
  // A histogram truncated in the middle.
  expectRefused(
      [](json& j) {
        std::string hdr = j["latency"]["connect"]["hdr"];
        j["latency"]["connect"]["hdr"] = hdr.substr(0, hdr.size() / 2 / 4 * 4);
      },
      "connect");
  expectRefused([](json& j) { j["latency"].erase("first_byte"); }, "first_byte");
  expectRefused([](json& j) { j["latency"]["corrected"]["hdr"] = 17; }, "corrected");
  expectRefused([](json& j) { j.erase("latency"); }, "latency");
}

TEST(LoadResultJson, RefusesNegativeOrMistypedCounters) {
  expectRefused([](json& j) { j["counters"]["sent"] = -5; }, "sent");
  expectRefused([](json& j) { j["counters"]["completed"] = 1.5; }, "completed");
  expectRefused([](json& j) { j["counters"]["bytes_in"] = "many"; }, "bytes_in");
  expectRefused([](json& j) { j["counters"]["errors"]["closed"] = -1; }, "closed");
  expectRefused([](json& j) { j["counters"]["status"]["2xx"] = -1; }, "2xx");
  expectRefused([](json& j) { j["threads"] = -2; }, "threads");
  expectRefused([](json& j) { j.erase("counters"); }, "counters");
  expectRefused([](json& j) { j["seconds"] = "long"; }, "seconds");
  expectRefused([](json& j) { j["url"] = 5; }, "url");
}

TEST(LoadResultJson, RefusesABadTimeline) {
  expectRefused([](json& j) { j["timeline"] = "none"; }, "timeline");
  expectRefused([](json& j) { j["timeline"] = json::array({json::array({1, 2})}); }, "timeline");
  expectRefused(
      [](json& j) {
        j["timeline"] = json::array({json::array({-1, 0, 0})});
      },
      "timeline");
}

}  // namespace
}  // namespace portd::load
