#include "load/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace portd::load {

namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// a + b for counts (both >= 0), stopping at INT64_MAX: merging histograms that already hold
// absurd counts must not turn into undefined behaviour.
int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? kInt64Max : sum;
}

BucketLayout layoutOrThrow(int64_t lowest, int64_t highest, int digits) {
  std::string error;
  std::optional<BucketLayout> layout = BucketLayout::make(lowest, highest, digits, &error);
  if (!layout) {
    throw std::invalid_argument("histogram: " + error);
  }
  return *layout;
}

}  // namespace

std::optional<Histogram> Histogram::make(int64_t lowest, int64_t highest, int digits,
                                         std::string* error) {
  std::optional<BucketLayout> layout = BucketLayout::make(lowest, highest, digits, error);
  if (!layout) {
    return std::nullopt;
  }
  return Histogram(*layout);
}

std::optional<Histogram> Histogram::fromCounts(const BucketLayout& layout,
                                               std::vector<int64_t> counts, std::string* error) {
  if (counts.size() != static_cast<size_t>(layout.countsLength())) {
    *error = std::to_string(counts.size()) + " counts for a layout of " +
             std::to_string(layout.countsLength());
    return std::nullopt;
  }
  Histogram h(layout, std::move(counts));
  // What HdrHistogram's establishInternalTackingValues() derives from the counts alone.
  int32_t min_non_zero_index = -1;
  int32_t max_index = -1;
  for (int32_t i = 0; i < layout.countsLength(); ++i) {
    int64_t count = h.counts_[static_cast<size_t>(i)];
    if (count < 0) {
      *error = "negative count " + std::to_string(count) + " at index " + std::to_string(i);
      return std::nullopt;
    }
    if (count == 0) {
      continue;
    }
    if (__builtin_add_overflow(h.total_count_, count, &h.total_count_)) {
      *error = "the counts add up to more than 2^63 - 1";
      return std::nullopt;
    }
    max_index = i;
    if (min_non_zero_index < 0 && i != 0) {
      min_non_zero_index = i;
    }
  }
  if (max_index >= 0) {
    h.max_value_ = layout.highestEquivalent(layout.valueAt(max_index));
  }
  if (min_non_zero_index >= 0) {
    h.min_non_zero_value_ = layout.valueAt(min_non_zero_index);
  }
  return h;
}

Histogram::Histogram() : Histogram(kDefaultLowest, kDefaultHighest, kDefaultDigits) {}

Histogram::Histogram(int64_t lowest, int64_t highest, int digits)
    : Histogram(layoutOrThrow(lowest, highest, digits)) {}

Histogram::Histogram(const BucketLayout& layout)
    : layout_(layout), counts_(static_cast<size_t>(layout.countsLength()), 0) {}

Histogram::Histogram(const BucketLayout& layout, std::vector<int64_t> counts)
    : layout_(layout), counts_(std::move(counts)) {}

void Histogram::add(const Histogram& other) {
  const bool same_indexing = layout_.sameIndexing(other.layout_);
  // Past this index, the ranges of a counts array lie above highest(): counts there are
  // clamped like the values record() is given.
  const int32_t last = layout_.indexOf(layout_.highest());
  // The lowest index other than 0 and the highest index that received a count; values grow
  // with indexes, so these give the new min and max.
  int32_t lowest_index = std::numeric_limits<int32_t>::max();
  int32_t highest_index = -1;
  for (int32_t i = 0; i < other.layout_.countsLength(); ++i) {
    int64_t count = other.counts_[static_cast<size_t>(i)];
    if (count == 0) {
      continue;
    }
    int32_t index = i;
    if (!same_indexing || i > last) {
      // The range's lowest value, as HdrHistogram's add() records it; it falls in exactly one
      // range of this layout whenever this layout is at least as precise.
      int64_t value = other.layout_.valueAt(i);
      if (value > layout_.highest()) {
        saturated_ = saturatingAdd(saturated_, count);
        value = layout_.highest();
      }
      index = layout_.indexOf(value);
    }
    int64_t& slot = counts_[static_cast<size_t>(index)];
    slot = saturatingAdd(slot, count);
    total_count_ = saturatingAdd(total_count_, count);
    if (index != 0) {
      lowest_index = std::min(lowest_index, index);
    }
    highest_index = std::max(highest_index, index);
  }
  // min() and max() widen these to their ranges, so the lowest value of a range is as good as
  // any value recorded in it.
  if (highest_index >= 0) {
    max_value_ = std::max(max_value_, layout_.valueAt(highest_index));
  }
  if (highest_index > 0) {
    min_non_zero_value_ = std::min(min_non_zero_value_, layout_.valueAt(lowest_index));
  }
  saturated_ = saturatingAdd(saturated_, other.saturated_);
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_count_ = 0;
  saturated_ = 0;
  max_value_ = 0;
  min_non_zero_value_ = kInt64Max;
}

int64_t Histogram::countAtValue(int64_t value) const {
  if (value < 0) {
    return 0;
  }
  int32_t index = layout_.indexOf(value);
  if (index >= layout_.countsLength()) {
    return 0;
  }
  return counts_[static_cast<size_t>(index)];
}

int64_t Histogram::min() const {
  if (total_count_ == 0 || counts_[0] > 0 || min_non_zero_value_ == kInt64Max) {
    return 0;
  }
  return layout_.lowestEquivalent(min_non_zero_value_);
}

int64_t Histogram::max() const {
  if (max_value_ == 0) {
    return 0;
  }
  return layout_.highestEquivalent(max_value_);
}

double Histogram::mean() const {
  if (total_count_ == 0) {
    return 0.0;
  }
  // In double, as HdrHistogram does: count * value overflows 64 bits for large values.
  double sum = 0.0;
  for (int32_t i = 0; i < layout_.countsLength(); ++i) {
    int64_t count = counts_[static_cast<size_t>(i)];
    if (count != 0) {
      sum += static_cast<double>(count) *
             static_cast<double>(layout_.medianEquivalent(layout_.valueAt(i)));
    }
  }
  return sum / static_cast<double>(total_count_);
}

double Histogram::stddev() const {
  if (total_count_ == 0) {
    return 0.0;
  }
  const double mean_value = mean();
  double sum = 0.0;
  for (int32_t i = 0; i < layout_.countsLength(); ++i) {
    int64_t count = counts_[static_cast<size_t>(i)];
    if (count != 0) {
      double deviation =
          static_cast<double>(layout_.medianEquivalent(layout_.valueAt(i))) - mean_value;
      sum += deviation * deviation * static_cast<double>(count);
    }
  }
  return std::sqrt(sum / static_cast<double>(total_count_));
}

int64_t Histogram::valueAtPercentile(double percentile) const {
  if (total_count_ == 0) {
    return 0;
  }
  // NaN counts as 0.
  const double requested = percentile > 0.0 ? std::min(percentile, 100.0) : 0.0;
  // HdrHistogram_c's rounding, (int64_t)(p / 100 * total + 0.5), at least 1; compared in
  // double first, since the product can reach 2^63 where the conversion is undefined.
  const double wanted = requested / 100.0 * static_cast<double>(total_count_) + 0.5;
  int64_t count_at_percentile =
      wanted >= static_cast<double>(total_count_) ? total_count_ : static_cast<int64_t>(wanted);
  count_at_percentile = std::max<int64_t>(count_at_percentile, 1);

  int64_t cumulative = 0;
  for (int32_t i = 0; i < layout_.countsLength(); ++i) {
    cumulative = saturatingAdd(cumulative, counts_[static_cast<size_t>(i)]);
    if (cumulative >= count_at_percentile) {
      int64_t value = layout_.valueAt(i);
      return requested == 0.0 ? layout_.lowestEquivalent(value) : layout_.highestEquivalent(value);
    }
  }
  // Unreachable while the counts add up to the total, which record(), add() and fromCounts()
  // keep true.
  return max();
}

bool Histogram::operator==(const Histogram& other) const {
  return layout_.lowest() == other.layout_.lowest() &&
         layout_.highest() == other.layout_.highest() &&
         layout_.digits() == other.layout_.digits() && saturated_ == other.saturated_ &&
         counts_ == other.counts_;
}

}  // namespace portd::load
