#include "load/percentile_iterator.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace portd::load {

PercentileIterator::PercentileIterator(const Histogram& histogram, int ticks_per_half_distance)
    : histogram_(histogram),
      ticks_per_half_distance_(std::clamp(ticks_per_half_distance, 1, 1000)) {}

bool PercentileIterator::moveNext() {
  if (index_ + 1 >= histogram_.layout().countsLength()) {
    return false;
  }
  ++index_;
  count_ = histogram_.countAtIndex(index_);
  // Saturating, like Histogram::add(): a merged histogram may hold counts whose sum does not
  // fit.
  if (__builtin_add_overflow(cumulative_, count_, &cumulative_)) {
    cumulative_ = std::numeric_limits<int64_t>::max();
  }
  return true;
}

void PercentileIterator::advanceLevel() {
  // HdrHistogram_c's step, to the bit: 2^(floor(log2(100 / (100 - level))) + 1) ticks per
  // 100%. The guards are portd's. With totals beyond about 2^50 the level can come within a
  // rounding error of 100: the step may then be smaller than the level's last bit (the level
  // moves by one representable double instead, so that the walk always ends), or the sum may
  // round to 100 itself, after which HdrHistogram_c takes the logarithm of infinity; here a
  // level of 100 is left to the final row, so that levels always rise.
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  const double remaining = 100.0 - level_;
  double next = kInfinity;
  if (remaining > 0.0) {
    double halvings = std::log(100.0 / remaining) / std::log(2.0);
    if (halvings < 62.0) {
      double half_distance = std::ldexp(1.0, static_cast<int>(static_cast<int64_t>(halvings) + 1));
      next = level_ + 100.0 / (ticks_per_half_distance_ * half_distance);
      if (!(next > level_)) {
        next = std::nextafter(level_, kInfinity);
      }
    }
  }
  level_ = next < 100.0 ? next : kInfinity;
}

bool PercentileIterator::next(PercentileRow* row) {
  const int64_t total = histogram_.totalCount();
  if (total == 0 || done_) {
    return false;
  }
  // Once the walk has reached the last count, the next row is the 100% one, reporting the
  // range of that last count, as HdrHistogram does.
  if (cumulative_ < total) {
    if (index_ < 0) {
      moveNext();
    }
    while (true) {
      double current = 100.0 * static_cast<double>(cumulative_) / static_cast<double>(total);
      if (count_ != 0 && level_ <= current) {
        row->value = histogram_.highestEquivalentValue(histogram_.layout().valueAt(index_));
        row->percentile = level_;
        row->total_count = cumulative_;
        advanceLevel();
        return true;
      }
      if (cumulative_ >= total || !moveNext()) {
        // No level is left below 100% (see advanceLevel()), or the counts do not add up to
        // the total (a merge that saturated): end with the 100% row.
        break;
      }
    }
  }
  done_ = true;
  row->value = histogram_.highestEquivalentValue(histogram_.layout().valueAt(std::max(index_, 0)));
  row->percentile = 100.0;
  row->total_count = cumulative_;
  return true;
}

std::vector<PercentileRow> percentileSpectrum(const Histogram& histogram,
                                              int ticks_per_half_distance) {
  std::vector<PercentileRow> rows;
  PercentileIterator it(histogram, ticks_per_half_distance);
  PercentileRow row;
  while (it.next(&row)) {
    rows.push_back(row);
  }
  return rows;
}

}  // namespace portd::load
