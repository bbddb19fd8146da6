#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <string>

namespace portd::load {

// HdrHistogram's mapping of values to the indexes of a counts array, with the same arithmetic
// as HdrHistogram_c and the Java original, so that an index means the same range of values in
// portd and in every other implementation and encoded histograms are interchangeable.
//
// Values are grouped in buckets that each cover twice the range of the one before, and every
// bucket is split into `subBucketCount()` equal sub-buckets: a value is stored with a relative
// error below 10^-digits, whatever its magnitude. Bucket 0 holds every sub-bucket; the others
// store only their upper half (the lower half is covered by the bucket before), hence counts
// arrays of (bucketCount() + 1) * subBucketCount() / 2 entries.
//
// A plain value: copy it freely. Any thread may call anything.
class BucketLayout {
 public:
  // The layout of HdrHistogram's parameters: the lowest value told apart from 0 (>= 1, rounded
  // down to a power of two), the highest value it must hold (>= 2 * lowest) and the decimal
  // digits of precision (1..5). nullopt, with `error` set, for parameters HdrHistogram refuses.
  static std::optional<BucketLayout> make(int64_t lowest, int64_t highest, int digits,
                                          std::string* error);

  int64_t lowest() const { return lowest_; }
  int64_t highest() const { return highest_; }
  int digits() const { return digits_; }
  int32_t countsLength() const { return counts_length_; }
  int32_t bucketCount() const { return bucket_count_; }
  int32_t subBucketCount() const { return int32_t{1} << (sub_bucket_half_count_magnitude_ + 1); }
  int32_t unitMagnitude() const { return unit_magnitude_; }

  // The index of the counts array that holds `value` (>= 0). At least countsLength() for a
  // value beyond the last bucket.
  int32_t indexOf(int64_t value) const {
    int32_t bucket = bucketIndex(value);
    return indexFor(bucket, subBucketIndex(value, bucket));
  }

  // The lowest value that index `index` holds (0 <= index < countsLength()).
  int64_t valueAt(int32_t index) const {
    int32_t bucket = (index >> sub_bucket_half_count_magnitude_) - 1;
    int32_t sub_bucket = (index & (subBucketHalfCount() - 1)) + subBucketHalfCount();
    if (bucket < 0) {
      sub_bucket -= subBucketHalfCount();
      bucket = 0;
    }
    return shifted(sub_bucket, bucket + unit_magnitude_);
  }

  // The range of values counted together with `value` (>= 0): its lowest and highest member,
  // its size and its middle, as HdrHistogram defines them.
  int64_t lowestEquivalent(int64_t value) const {
    int32_t bucket = bucketIndex(value);
    return shifted(subBucketIndex(value, bucket), bucket + unit_magnitude_);
  }
  int64_t sizeOfEquivalentRange(int64_t value) const {
    int32_t bucket = bucketIndex(value);
    if (subBucketIndex(value, bucket) >= subBucketCount()) {
      ++bucket;
    }
    return shifted(1, bucket + unit_magnitude_);
  }
  int64_t highestEquivalent(int64_t value) const {
    // Adding size - 1 rather than size and then subtracting 1: the last range of a layout
    // that reaches 2^63 - 1 ends exactly there, and the sum of its start and size would not
    // fit.
    return lowestEquivalent(value) + (sizeOfEquivalentRange(value) - 1);
  }
  int64_t medianEquivalent(int64_t value) const {
    return lowestEquivalent(value) + (sizeOfEquivalentRange(value) >> 1);
  }

  // True when an index means the same range of values in both layouts (their counts arrays
  // may still differ in length).
  bool sameIndexing(const BucketLayout& other) const {
    return unit_magnitude_ == other.unit_magnitude_ &&
           sub_bucket_half_count_magnitude_ == other.sub_bucket_half_count_magnitude_;
  }

  bool operator==(const BucketLayout&) const = default;

 private:
  BucketLayout() = default;

  int32_t subBucketHalfCount() const { return int32_t{1} << sub_bucket_half_count_magnitude_; }

  int32_t bucketIndex(int64_t value) const {
    // The position of the highest bit set, with the mask making every value of bucket 0
    // (those below subBucketCount() << unit) land on the same one.
    int32_t pow2_ceiling = 64 - std::countl_zero(static_cast<uint64_t>(value | sub_bucket_mask_));
    return pow2_ceiling - unit_magnitude_ - (sub_bucket_half_count_magnitude_ + 1);
  }
  int32_t subBucketIndex(int64_t value, int32_t bucket) const {
    return static_cast<int32_t>(value >> (bucket + unit_magnitude_));
  }
  int32_t indexFor(int32_t bucket, int32_t sub_bucket) const {
    return ((bucket + 1) << sub_bucket_half_count_magnitude_) + (sub_bucket - subBucketHalfCount());
  }
  // Shifted as unsigned, since the top sub-bucket of a layout that reaches 2^63 - 1 starts
  // right below the sign bit.
  static int64_t shifted(int64_t value, int32_t shift) {
    return static_cast<int64_t>(static_cast<uint64_t>(value) << shift);
  }

  int64_t lowest_ = 0;
  int64_t highest_ = 0;
  int digits_ = 0;
  int32_t unit_magnitude_ = 0;
  int32_t sub_bucket_half_count_magnitude_ = 0;
  int64_t sub_bucket_mask_ = 0;
  int32_t bucket_count_ = 0;
  int32_t counts_length_ = 0;
};

}  // namespace portd::load
