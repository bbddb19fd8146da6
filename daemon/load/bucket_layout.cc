#include "load/bucket_layout.h"

#include <limits>

namespace portd::load {

namespace {

// The number of buckets needed for `value` to have an index, as HdrHistogram_c's
// buckets_needed_to_cover_value() counts them, overflow guard included: other implementations
// size their counts arrays this way, and the encoding depends on the arrays being the same.
int32_t bucketsNeeded(int64_t value, int32_t sub_bucket_count, int32_t unit_magnitude) {
  int64_t smallest_untrackable = int64_t{sub_bucket_count} << unit_magnitude;
  int32_t buckets = 1;
  while (smallest_untrackable <= value) {
    if (smallest_untrackable > std::numeric_limits<int64_t>::max() / 2) {
      return buckets + 1;
    }
    smallest_untrackable <<= 1;
    ++buckets;
  }
  return buckets;
}

}  // namespace

std::optional<BucketLayout> BucketLayout::make(int64_t lowest, int64_t highest, int digits,
                                               std::string* error) {
  if (lowest < 1) {
    *error = "the lowest discernible value must be at least 1, not " + std::to_string(lowest);
    return std::nullopt;
  }
  if (digits < 1 || digits > 5) {
    *error = "the significant digits must be 1 to 5, not " + std::to_string(digits);
    return std::nullopt;
  }
  // lowest * 2 > highest, written so that it cannot overflow.
  if (lowest > highest / 2) {
    *error = "the highest trackable value (" + std::to_string(highest) +
             ") must be at least twice the lowest discernible value (" + std::to_string(lowest) +
             ")";
    return std::nullopt;
  }

  BucketLayout layout;
  layout.lowest_ = lowest;
  layout.highest_ = highest;
  layout.digits_ = digits;

  // Enough sub-buckets that every value up to 2 * 10^digits has a count of its own: the
  // smallest power of two at least that large. HdrHistogram computes it as ceil(log2(x)) in
  // floating point, which is exact here since 2 * 10^digits is never a power of two.
  int64_t single_unit_limit = 2;
  for (int i = 0; i < digits; ++i) {
    single_unit_limit *= 10;
  }
  int32_t sub_bucket_count_magnitude = std::bit_width(static_cast<uint64_t>(single_unit_limit - 1));
  layout.sub_bucket_half_count_magnitude_ =
      (sub_bucket_count_magnitude > 1 ? sub_bucket_count_magnitude : 1) - 1;
  // floor(log2(lowest)): HdrHistogram takes it in floating point, which agrees with the bit
  // count for every lowest value below 2^53.
  layout.unit_magnitude_ = std::bit_width(static_cast<uint64_t>(lowest)) - 1;
  if (layout.unit_magnitude_ + layout.sub_bucket_half_count_magnitude_ > 61) {
    *error = "the lowest discernible value " + std::to_string(lowest) + " is too large for " +
             std::to_string(digits) + " significant digits";
    return std::nullopt;
  }
  int32_t sub_bucket_count = layout.subBucketCount();
  layout.sub_bucket_mask_ = (int64_t{sub_bucket_count} - 1) << layout.unit_magnitude_;
  layout.bucket_count_ = bucketsNeeded(highest, sub_bucket_count, layout.unit_magnitude_);
  layout.counts_length_ = (layout.bucket_count_ + 1) * (sub_bucket_count / 2);
  return layout;
}

}  // namespace portd::load
