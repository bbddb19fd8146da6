#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "load/bucket_layout.h"

namespace portd::load {

// A histogram of values (latencies in microseconds for `portd load`) in HdrHistogram's design:
// its layout (see BucketLayout), its recording, merging and query semantics, so that it can
// be exchanged with HdrHistogram in any language through hdr_codec.h.
//
// Memory is allocated once, in the constructor (a counts array of layout().countsLength()
// 64-bit counts: 184 KiB with the defaults); recording is O(1) and allocates nothing. There is
// no auto-resizing and no shifting of values.
//
// Not thread-safe: one writer, or one thread at a time. Copying copies the counts.
class Histogram {
 public:
  // Defaults: 1 µs to 1 h with 3 significant digits (values within 0.1%).
  static constexpr int64_t kDefaultLowest = 1;
  static constexpr int64_t kDefaultHighest = 3'600'000'000;
  static constexpr int kDefaultDigits = 3;

  // An empty histogram of the given layout, or nullopt with `error` set when HdrHistogram
  // refuses the parameters (see BucketLayout::make).
  static std::optional<Histogram> make(int64_t lowest, int64_t highest, int digits,
                                       std::string* error);
  // A histogram of `layout` holding `counts`, one per index and layout.countsLength() of
  // them, as a decoder finds them: nullopt with `error` set when their number does not match
  // the layout, a count is negative or their sum does not fit in 63 bits.
  static std::optional<Histogram> fromCounts(const BucketLayout& layout,
                                             std::vector<int64_t> counts, std::string* error);

  // The default layout.
  Histogram();
  // Throws std::invalid_argument for parameters make() refuses.
  Histogram(int64_t lowest, int64_t highest, int digits);
  explicit Histogram(const BucketLayout& layout);

  // Counts `value` `count` times. A value above highest() is counted as highest() and also in
  // saturated(), so that the total stays right and clamping shows. 0 and the values below
  // lowest() are recorded as HdrHistogram does (they share the first sub-buckets). A negative
  // value or count is refused (returns false) and changes nothing. Counts are not checked for
  // overflow here: 2^63 of anything is more than a load generator records.
  bool record(int64_t value) { return record(value, 1); }
  bool record(int64_t value, int64_t count) {
    if (value < 0 || count < 0) {
      return false;
    }
    if (value > layout_.highest()) {
      saturated_ += count;
      value = layout_.highest();
    }
    counts_[static_cast<size_t>(layout_.indexOf(value))] += count;
    total_count_ += count;
    if (value > max_value_) {
      max_value_ = value;
    }
    if (value != 0 && value < min_non_zero_value_) {
      min_non_zero_value_ = value;
    }
    return true;
  }

  // Adds every count of `other`, with no loss of precision. Where the layouts index values
  // alike (the same lowest and digits) counts are added index by index; otherwise each count
  // of `other` is recorded again at the lowest value of its range, as HdrHistogram's add()
  // does. Counts of ranges above this histogram's highest() are clamped as record() clamps
  // values, and counted in saturated() with the saturated() counts of `other`. Sums stop at
  // 2^63 - 1 instead of overflowing.
  void add(const Histogram& other);

  // Forgets every count; the layout stays.
  void reset();

  const BucketLayout& layout() const { return layout_; }
  int64_t lowest() const { return layout_.lowest(); }
  int64_t highest() const { return layout_.highest(); }
  int digits() const { return layout_.digits(); }

  int64_t totalCount() const { return total_count_; }
  // How many of the values counted were above highest() and counted as highest().
  int64_t saturated() const { return saturated_; }
  // The count at index `index` of the counts array (0 <= index < layout().countsLength()).
  int64_t countAtIndex(int32_t index) const { return counts_[static_cast<size_t>(index)]; }
  // The count of the range `value` falls in; 0 for a value with no index.
  int64_t countAtValue(int64_t value) const;

  // HdrHistogram's statistics: min() is the lowest value of the lowest range with a count,
  // max() the highest value of the highest one; mean() and stddev() take every count at the
  // middle of its range. All are 0 for an empty histogram.
  int64_t min() const;
  int64_t max() const;
  double mean() const;
  double stddev() const;

  // The highest value of the range where the count, summed from the lowest range up, first
  // reaches `percentile` (0..100, clamped) percent of the total, rounded to the nearest count
  // as HdrHistogram_c does; for 0, the lowest value of the first range with a count. 0 for
  // an empty histogram.
  int64_t valueAtPercentile(double percentile) const;

  // The equivalence ranges of the layout (see BucketLayout).
  int64_t lowestEquivalentValue(int64_t value) const { return layout_.lowestEquivalent(value); }
  int64_t highestEquivalentValue(int64_t value) const { return layout_.highestEquivalent(value); }
  int64_t medianEquivalentValue(int64_t value) const { return layout_.medianEquivalent(value); }
  int64_t sizeOfEquivalentRange(int64_t value) const {
    return layout_.sizeOfEquivalentRange(value);
  }
  bool valuesAreEquivalent(int64_t a, int64_t b) const {
    return lowestEquivalentValue(a) == lowestEquivalentValue(b);
  }

  // The same layout parameters, the same count at every index and the same saturated count.
  bool operator==(const Histogram& other) const;

 private:
  Histogram(const BucketLayout& layout, std::vector<int64_t> counts);

  BucketLayout layout_;
  std::vector<int64_t> counts_;
  int64_t total_count_ = 0;
  int64_t saturated_ = 0;
  // As HdrHistogram tracks them: the highest value recorded (0 when none) and the lowest one
  // other than 0 (INT64_MAX when none); min() and max() widen them to their ranges.
  int64_t max_value_ = 0;
  int64_t min_non_zero_value_ = INT64_MAX;
};

}  // namespace portd::load
