// The histogram against HdrHistogram's own expectations: the layouts and values of
// HdrHistogram_c's test_histogram.c (and of a histogram the JavaScript port printed), and
// percentiles and merges against exact answers computed from the raw samples.

#include "load/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "load/bucket_layout.h"
#include "load/percentile_iterator.h"

using namespace portd::load;

namespace {

constexpr int64_t kHour = 3'600'000'000;

// HdrHistogram_c's hdr_record_corrected_value(): the value, then the values a stalled
// recorder would have missed at each `interval` below it.
void recordCorrected(Histogram* h, int64_t value, int64_t interval) {
  h->record(value);
  for (int64_t missing = value - interval; missing >= interval; missing -= interval) {
    h->record(missing);
  }
}

// test_histogram.c's load_histograms(): 10000 values of 1000 and one of 100000000, raw and
// corrected for an expected interval of 10000.
struct Loaded {
  Histogram raw{1, kHour, 3};
  Histogram corrected{1, kHour, 3};
  Histogram scaled_raw{1000, kHour * 512, 3};
  Histogram scaled_corrected{1000, kHour * 512, 3};
  Loaded() {
    for (int i = 0; i < 10000; ++i) {
      raw.record(1000);
      recordCorrected(&corrected, 1000, 10000);
      scaled_raw.record(1000 * 512);
      recordCorrected(&scaled_corrected, 1000 * 512, 10000 * 512);
    }
    raw.record(100000000);
    recordCorrected(&corrected, 100000000, 10000);
    scaled_raw.record(100000000LL * 512);
    recordCorrected(&scaled_corrected, 100000000LL * 512, 10000 * 512);
  }
};

// Within HdrHistogram_c's compare_percentile() tolerance.
void expectNear(int64_t actual, double expected, double variation = 0.001) {
  EXPECT_NEAR(static_cast<double>(actual), expected, expected * variation);
}

// Values spread evenly over the logarithm of 1 µs .. 1 h, like latencies with a long tail.
std::vector<int64_t> sample(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exponent(0.0, std::log(static_cast<double>(kHour)));
  std::vector<int64_t> values;
  values.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    values.push_back(static_cast<int64_t>(std::exp(exponent(rng))));
  }
  return values;
}

}  // namespace

TEST(HistogramLayout, CountsLengthsAreHdrHistogramCs) {
  std::string error;
  // test_create: 1 .. 3600000000, 3 digits.
  auto layout = BucketLayout::make(1, kHour, 3, &error);
  ASSERT_TRUE(layout) << error;
  EXPECT_EQ(layout->countsLength(), 23552);
  EXPECT_EQ(layout->subBucketCount(), 2048);
  // What the JavaScript port printed for 1 .. 3600000000 with 2 digits.
  layout = BucketLayout::make(1, kHour, 2, &error);
  ASSERT_TRUE(layout) << error;
  EXPECT_EQ(layout->bucketCount(), 25);
  EXPECT_EQ(layout->subBucketCount(), 256);
  EXPECT_EQ(layout->countsLength(), 3328);
  EXPECT_EQ(layout->unitMagnitude(), 0);
  // jHiccup's nanosecond histograms (lowest 20000: units of 2^14).
  layout = BucketLayout::make(20000, kHour * 1000, 2, &error);
  ASSERT_TRUE(layout) << error;
  EXPECT_EQ(layout->unitMagnitude(), 14);
}

TEST(HistogramLayout, RefusesWhatHdrHistogramRefuses) {
  struct Case {
    int64_t lowest, highest;
    int digits;
  };
  // test_invalid_significant_figures, test_invalid_init, and a unit too large for 5 digits.
  for (Case c :
       {Case{1, 36000000, -1}, Case{1, 36000000, 6}, Case{0, 64 * 1024, 2}, Case{80, 110, 5},
        Case{-5, 1000, 3}, Case{int64_t{1} << 50, INT64_MAX, 5}, Case{INT64_MAX, INT64_MAX, 3}}) {
    std::string error;
    EXPECT_FALSE(BucketLayout::make(c.lowest, c.highest, c.digits, &error))
        << c.lowest << " " << c.highest << " " << c.digits;
    EXPECT_FALSE(error.empty());
    EXPECT_FALSE(Histogram::make(c.lowest, c.highest, c.digits, &error));
    EXPECT_THROW(Histogram(c.lowest, c.highest, c.digits), std::invalid_argument);
  }
}

TEST(HistogramLayout, IndexesWhatTheJavaScriptPortPrinted) {
  std::string error;
  auto layout = BucketLayout::make(1, kHour, 2, &error);
  ASSERT_TRUE(layout) << error;
  EXPECT_EQ(layout->valueAt(699), 2992);
  EXPECT_EQ(layout->indexOf(2992), 699);
  EXPECT_EQ(layout->valueAt(1067), 21888);
  EXPECT_EQ(layout->highestEquivalent(21888), 22015);
  EXPECT_EQ(layout->indexOf(22015), 1067);
  EXPECT_EQ(layout->indexOf(22016), 1068);
}

TEST(HistogramLayout, RangesTileTheValuesWithoutGapOrOverlap) {
  for (auto [lowest, highest, digits] :
       {std::tuple{int64_t{1}, kHour, 3}, std::tuple{int64_t{1000}, kHour * 512, 3},
        std::tuple{int64_t{1}, INT64_MAX, 1}, std::tuple{int64_t{20000}, kHour * 1000, 2}}) {
    std::string error;
    auto layout = BucketLayout::make(lowest, highest, digits, &error);
    ASSERT_TRUE(layout) << error;
    EXPECT_EQ(layout->valueAt(0), 0);
    for (int32_t i = 0; i + 1 < layout->countsLength(); ++i) {
      int64_t value = layout->valueAt(i);
      ASSERT_EQ(layout->indexOf(value), i);
      ASSERT_EQ(layout->lowestEquivalent(value), value);
      ASSERT_EQ(layout->highestEquivalent(value) + 1, layout->valueAt(i + 1)) << i;
      ASSERT_EQ(layout->indexOf(layout->highestEquivalent(value)), i);
      ASSERT_EQ(layout->medianEquivalent(value), value + layout->sizeOfEquivalentRange(value) / 2);
    }
    // The highest value has an index, with room to spare.
    EXPECT_LT(layout->indexOf(highest), layout->countsLength());
  }
}

TEST(Histogram, CountsAndExtremesOfHdrHistogramCsTests) {
  Loaded h;
  EXPECT_EQ(h.raw.totalCount(), 10001);
  EXPECT_EQ(h.corrected.totalCount(), 20000);
  EXPECT_TRUE(h.raw.valuesAreEquivalent(h.raw.max(), 100000000));
  EXPECT_TRUE(h.corrected.valuesAreEquivalent(h.corrected.max(), 100000000));
  EXPECT_EQ(h.raw.min(), 1000);
  EXPECT_EQ(h.corrected.min(), 1000);
  EXPECT_EQ(h.raw.saturated(), 0);
}

TEST(Histogram, PercentilesOfHdrHistogramCsTests) {
  Loaded h;
  expectNear(h.raw.valueAtPercentile(30.0), 1000.0);
  expectNear(h.raw.valueAtPercentile(99.0), 1000.0);
  expectNear(h.raw.valueAtPercentile(99.99), 1000.0);
  expectNear(h.raw.valueAtPercentile(99.999), 100000000.0);
  expectNear(h.raw.valueAtPercentile(100.0), 100000000.0);

  expectNear(h.corrected.valueAtPercentile(30.0), 1000.0);
  expectNear(h.corrected.valueAtPercentile(50.0), 1000.0);
  expectNear(h.corrected.valueAtPercentile(75.0), 50000000.0);
  expectNear(h.corrected.valueAtPercentile(90.0), 80000000.0);
  expectNear(h.corrected.valueAtPercentile(99.0), 98000000.0);
  expectNear(h.corrected.valueAtPercentile(99.999), 100000000.0);
  expectNear(h.corrected.valueAtPercentile(100.0), 100000000.0);
}

TEST(Histogram, LargeValuesOfHdrHistogramCsTests) {
  Histogram h(20000000, 100000000, 5);
  h.record(100000000);
  h.record(20000000);
  h.record(30000000);
  EXPECT_TRUE(h.valuesAreEquivalent(20000000, h.valueAtPercentile(50.0)));
  EXPECT_TRUE(h.valuesAreEquivalent(30000000, h.valueAtPercentile(83.33)));
  EXPECT_TRUE(h.valuesAreEquivalent(100000000, h.valueAtPercentile(83.34)));
  EXPECT_TRUE(h.valuesAreEquivalent(100000000, h.valueAtPercentile(99.0)));
}

TEST(Histogram, ScalingEquivalenceOfHdrHistogramCsTests) {
  Loaded h;
  EXPECT_NEAR(h.corrected.mean() * 512, h.scaled_corrected.mean(),
              h.scaled_corrected.mean() * 0.000001);
  EXPECT_EQ(h.corrected.totalCount(), h.scaled_corrected.totalCount());
  int64_t expected_99th = h.corrected.valueAtPercentile(99.0) * 512;
  int64_t scaled_99th = h.scaled_corrected.valueAtPercentile(99.0);
  EXPECT_EQ(h.corrected.lowestEquivalentValue(expected_99th),
            h.scaled_corrected.lowestEquivalentValue(scaled_99th));
}

TEST(Histogram, OneToAHundredThousand) {
  Histogram h;
  for (int64_t v = 1; v <= 100000; ++v) {
    h.record(v);
  }
  EXPECT_EQ(h.totalCount(), 100000);
  EXPECT_EQ(h.min(), 1);
  EXPECT_TRUE(h.valuesAreEquivalent(h.max(), 100000));
  EXPECT_NEAR(h.mean(), 50000.5, 50000.5 * 0.001);
  EXPECT_NEAR(h.stddev(), 28867.5, 28867.5 * 0.001);
  // 50000 lies in the range 49984..50015 (32 values wide at that magnitude).
  EXPECT_EQ(h.valueAtPercentile(50.0), 50015);
  EXPECT_EQ(h.valueAtPercentile(0.0), 1);
  EXPECT_EQ(h.valueAtPercentile(100.0), h.max());
  EXPECT_EQ(h.valueAtPercentile(250.0), h.max());
  EXPECT_EQ(h.valueAtPercentile(-1.0), 1);
  EXPECT_EQ(h.countAtValue(1000), 1);
  EXPECT_EQ(h.countAtValue(50000), 32);
}

TEST(Histogram, PercentilesAreTheSortedSamplesRange) {
  std::vector<int64_t> values = sample(100000, 42);
  Histogram h;
  for (int64_t v : values) {
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {0.0, 0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0}) {
    // HdrHistogram's rank: the count nearest to p% of the total, at least 1.
    auto rank = std::max<int64_t>(1, static_cast<int64_t>(p / 100.0 * values.size() + 0.5));
    int64_t exact = values[static_cast<size_t>(rank - 1)];
    int64_t got = h.valueAtPercentile(p);
    EXPECT_TRUE(h.valuesAreEquivalent(got, exact)) << p << "%: " << got << " vs " << exact;
    EXPECT_EQ(got, p == 0.0 ? h.lowestEquivalentValue(exact) : h.highestEquivalentValue(exact));
    EXPECT_LE(std::abs(static_cast<double>(got - exact)), 0.001 * static_cast<double>(exact) + 1)
        << p;
  }
  EXPECT_EQ(h.min(), h.lowestEquivalentValue(values.front()));
  EXPECT_EQ(h.max(), h.highestEquivalentValue(values.back()));
}

TEST(Histogram, MergedHalvesEqualTheWhole) {
  std::vector<int64_t> values = sample(50000, 7);
  Histogram whole, first, second;
  for (size_t i = 0; i < values.size(); ++i) {
    whole.record(values[i]);
    (i % 3 == 0 ? first : second).record(values[i]);
  }
  // A few above the highest value: the saturated counts merge too.
  whole.record(kHour * 2, 3);
  second.record(kHour * 2, 3);
  Histogram merged = first;
  merged.add(second);
  EXPECT_EQ(merged, whole);
  EXPECT_EQ(merged.totalCount(), whole.totalCount());
  EXPECT_EQ(merged.saturated(), 3);
  EXPECT_EQ(merged.min(), whole.min());
  EXPECT_EQ(merged.max(), whole.max());
  EXPECT_EQ(merged.mean(), whole.mean());
  EXPECT_EQ(percentileSpectrum(merged), percentileSpectrum(whole));
  EXPECT_NE(first, whole);
}

TEST(Histogram, MergesAcrossLayoutsByValue) {
  std::vector<int64_t> values = sample(20000, 9);
  Histogram fine(1, kHour, 3);
  for (int64_t v : values) {
    fine.record(v);
  }
  // Same indexing, longer counts array: counts are added index by index.
  Histogram longer(1, kHour * 4, 3);
  longer.add(fine);
  EXPECT_EQ(longer.totalCount(), fine.totalCount());
  for (double p : {50.0, 99.0, 100.0}) {
    EXPECT_EQ(longer.valueAtPercentile(p), fine.valueAtPercentile(p));
  }
  // Another precision: each range is recorded again at its lowest value, as HdrHistogram's
  // add() does.
  Histogram coarse(1, kHour, 2);
  coarse.add(fine);
  Histogram expected(1, kHour, 2);
  for (int64_t v : values) {
    expected.record(fine.lowestEquivalentValue(v));
  }
  EXPECT_EQ(coarse, expected);
  // A shorter range: what does not fit is clamped and counted as saturated.
  Histogram shorter(1, 1000000, 3);
  shorter.add(fine);
  EXPECT_EQ(shorter.totalCount(), fine.totalCount());
  int64_t above = 0;
  for (int64_t v : values) {
    above += fine.lowestEquivalentValue(v) > 1000000 ? 1 : 0;
  }
  EXPECT_GT(above, 0);
  EXPECT_EQ(shorter.saturated(), above);
}

TEST(Histogram, ClampsValuesAboveTheHighest) {
  Histogram h(1, 1000, 4);
  EXPECT_TRUE(h.record(1000));
  EXPECT_TRUE(h.record(1001));
  EXPECT_TRUE(h.record(INT64_MAX, 2));
  EXPECT_EQ(h.saturated(), 3);
  EXPECT_EQ(h.totalCount(), 4);
  EXPECT_EQ(h.countAtValue(1000), 4);
  EXPECT_EQ(h.max(), 1000);
  EXPECT_FALSE(h.record(-1));
  EXPECT_FALSE(h.record(5, -1));
  EXPECT_EQ(h.totalCount(), 4);
}

TEST(Histogram, RecordsZeroAndValuesBelowTheLowest) {
  Histogram h(1000, kHour, 3);
  h.record(0);
  h.record(5);
  h.record(3000);
  // Units of 512: 0 and 5 share the first range.
  EXPECT_EQ(h.countAtValue(0), 2);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.valueAtPercentile(50.0), 511);
  EXPECT_EQ(h.totalCount(), 3);
}

TEST(Histogram, EmptyHasZeroStatistics) {
  Histogram h;
  EXPECT_EQ(h.totalCount(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stddev(), 0.0);
  EXPECT_EQ(h.valueAtPercentile(99.0), 0);
  EXPECT_TRUE(percentileSpectrum(h).empty());
}

TEST(Histogram, ResetForgetsEverything) {
  Loaded h;
  EXPECT_NE(h.raw.valueAtPercentile(99.0), 0);
  h.raw.record(kHour * 2);
  h.raw.reset();
  EXPECT_EQ(h.raw.totalCount(), 0);
  EXPECT_EQ(h.raw.saturated(), 0);
  EXPECT_EQ(h.raw.valueAtPercentile(99.0), 0);
  EXPECT_EQ(h.raw, Histogram(1, kHour, 3));
}

TEST(Histogram, FromCountsRefusesImpossibleCounts) {
  std::string error;
  auto layout = BucketLayout::make(1, 1000, 1, &error);
  ASSERT_TRUE(layout);
  std::vector<int64_t> counts(static_cast<size_t>(layout->countsLength()), 0);
  EXPECT_FALSE(Histogram::fromCounts(*layout, std::vector<int64_t>(3), &error));
  counts[1] = -1;
  EXPECT_FALSE(Histogram::fromCounts(*layout, counts, &error));
  counts[1] = INT64_MAX;
  counts[2] = 1;
  EXPECT_FALSE(Histogram::fromCounts(*layout, counts, &error));
  counts[2] = 0;
  auto h = Histogram::fromCounts(*layout, counts, &error);
  ASSERT_TRUE(h) << error;
  EXPECT_EQ(h->totalCount(), INT64_MAX);
  EXPECT_EQ(h->min(), 1);
  EXPECT_EQ(h->max(), 1);
  // Merging it into itself saturates instead of overflowing.
  Histogram twice = *h;
  twice.add(*h);
  EXPECT_EQ(twice.totalCount(), INT64_MAX);
  EXPECT_EQ(twice.valueAtPercentile(50.0), 1);
}

TEST(HistogramPercentiles, SpectrumOfOneToTen) {
  Histogram h;
  for (int64_t v = 1; v <= 10; ++v) {
    h.record(v);
  }
  // HdrHistogram_c's percentile iterator with 5 ticks per half distance, as its own
  // arithmetic gives it.
  std::vector<PercentileRow> expected = {
      {1, 0.0, 1},  {1, 10.0, 1},  {2, 20.0, 2}, {3, 30.0, 3},    {4, 40.0, 4},
      {5, 50.0, 5}, {6, 55.0, 6},  {6, 60.0, 6}, {7, 65.0, 7},    {7, 70.0, 7},
      {8, 75.0, 8}, {8, 77.5, 8},  {8, 80.0, 8}, {9, 82.5, 9},    {9, 85.0, 9},
      {9, 87.5, 9}, {9, 88.75, 9}, {9, 90.0, 9}, {10, 91.25, 10}, {10, 100.0, 10},
  };
  EXPECT_EQ(percentileSpectrum(h), expected);
}

TEST(HistogramPercentiles, SpectrumOfHdrHistogramCsRawHistogram) {
  Loaded h;
  std::vector<PercentileRow> rows = percentileSpectrum(h.raw);
  ASSERT_EQ(rows.size(), 69u);
  EXPECT_EQ(rows.front(), (PercentileRow{1000, 0.0, 10000}));
  EXPECT_EQ(rows[20], (PercentileRow{1000, 93.75, 10000}));
  EXPECT_EQ(rows[66], (PercentileRow{1000, 99.989013671875, 10000}));
  EXPECT_EQ(rows[67], (PercentileRow{100007935, 99.990234375, 10001}));
  EXPECT_EQ(rows[68], (PercentileRow{100007935, 100.0, 10001}));
  // Every level is reached by its row's count, levels rise, the last row is the whole.
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_GE(100.0 * static_cast<double>(rows[i].total_count) / 10001.0, rows[i].percentile);
    if (i > 0) {
      EXPECT_GT(rows[i].percentile, rows[i - 1].percentile);
    }
  }
  // Fewer ticks, fewer rows; the clamp keeps 0 from dividing by zero.
  EXPECT_LT(percentileSpectrum(h.raw, 1).size(), rows.size());
  EXPECT_EQ(percentileSpectrum(h.raw, 0), percentileSpectrum(h.raw, 1));
}

TEST(HistogramPercentiles, SpectrumEndsForHugeTotals) {
  // Totals near 2^63 and 2^59: levels come within a rounding error of 100%, where HdrHistogram_c's
  // step is undefined (and a level can round to 100 before the last count). The walk must still
  // end, with levels that rise, and only its last row at 100%.
  Histogram near_max;
  near_max.record(10, INT64_MAX / 2);
  near_max.record(20, INT64_MAX / 2 - 5);
  near_max.record(30, 5);
  // What fuzz_hdr_decode found (corpus/hdr/percentile_level_rounds_to_100.v2), as recorded
  // values.
  Histogram rounding;
  rounding.record(10, int64_t{1} << 59);
  rounding.record(20, 21);
  for (const Histogram* h : {&near_max, &rounding}) {
    std::vector<PercentileRow> rows = percentileSpectrum(*h);
    ASSERT_FALSE(rows.empty());
    EXPECT_LT(rows.size(), 10000u);
    EXPECT_EQ(rows.back().percentile, 100.0);
    EXPECT_EQ(rows.back().value, h->max());
    for (size_t i = 1; i < rows.size(); ++i) {
      EXPECT_GT(rows[i].percentile, rows[i - 1].percentile) << i;
    }
  }
}
