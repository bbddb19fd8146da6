#pragma once

#include <cstdint>
#include <vector>

#include "load/histogram.h"

namespace portd::load {

// One row of a percentile spectrum, the table HdrHistogram prints with
// outputPercentileDistribution() and hdr_percentiles_print().
struct PercentileRow {
  // The highest value of the range the row reached.
  int64_t value = 0;
  // The percentile level (0..100) the row reports.
  double percentile = 0.0;
  // How many values are at or below `value`.
  int64_t total_count = 0;

  bool operator==(const PercentileRow&) const = default;
};

// Walks a histogram the way HdrHistogram's percentile iterator does: levels start at 0 and
// step by 100 / (ticks * 2^k) where 2^k halves the distance left to 100%, so that the tail
// (99%, 99.9%, ...) gets as many rows as the bulk; a row is reported when the count up to a
// range reaches the level, and a last row at 100% ends the walk. An empty histogram has no
// rows, as in the Java original.
//
// The histogram must outlive the iterator and not change while it walks.
class PercentileIterator {
 public:
  // `ticks_per_half_distance` is clamped to 1..1000; HdrHistogram's tools use 5.
  explicit PercentileIterator(const Histogram& histogram, int ticks_per_half_distance = 5);

  // The next row into `row`; false after the 100% row.
  bool next(PercentileRow* row);

 private:
  // Moves to the next index; false when there is none.
  bool moveNext();
  void advanceLevel();

  const Histogram& histogram_;
  const double ticks_per_half_distance_;
  int32_t index_ = -1;
  int64_t count_ = 0;
  int64_t cumulative_ = 0;
  double level_ = 0.0;
  bool done_ = false;
};

// Every row of the walk above.
std::vector<PercentileRow> percentileSpectrum(const Histogram& histogram,
                                              int ticks_per_half_distance = 5);

}  // namespace portd::load
