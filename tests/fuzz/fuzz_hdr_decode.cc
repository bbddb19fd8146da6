// Fuzz target for the HdrHistogram decoders, which read histograms and interval logs written
// by other programs: the input is tried as the binary V2 forms (decodeHistogram), as base64
// text (decodeBase64Histogram) and as an interval log (IntervalLogReader). Each must return a
// histogram or an error message, nothing else; ASan and UBSan turn any out-of-bounds access,
// overflow or undefined shift into a crash.
//
// A histogram that decodes must also hold together: its statistics and percentile walk
// return in bounds, it merges, and it encodes to bytes that decode to the very same counts.
// Anything else aborts.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "load/hdr_codec.h"
#include "load/histogram.h"
#include "load/interval_log.h"
#include "load/percentile_iterator.h"

namespace {

using portd::load::DecodeLimits;
using portd::load::Histogram;

// Smaller than the default (2^21), so that a run costs at most 2 MiB of counts and stays fast;
// the limit's own checks are the same code either way.
DecodeLimits limits() {
  DecodeLimits l;
  l.max_counts = 1 << 18;
  return l;
}

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

void exercise(const Histogram& h) {
  const int64_t min = h.min();
  const int64_t max = h.max();
  require(min >= 0 && min <= max);
  require(std::isfinite(h.mean()) && std::isfinite(h.stddev()));
  for (double p : {0.0, 50.0, 99.9, 100.0}) {
    int64_t value = h.valueAtPercentile(p);
    require(value >= 0 && value <= max);
  }
  portd::load::PercentileIterator it(h);
  portd::load::PercentileRow row;
  size_t rows = 0;
  double last_percentile = -1.0;
  while (it.next(&row)) {
    require(row.percentile > last_percentile && row.value <= max && ++rows < 100000);
    last_percentile = row.percentile;
  }
  require(h.totalCount() == 0 || last_percentile == 100.0);

  Histogram merged;
  merged.add(h);
  require(merged.totalCount() == h.totalCount());

  std::string error;
  std::optional<Histogram> again =
      portd::load::decodeHistogram(portd::load::encodeCompressed(h), &error, limits());
  require(again.has_value() && *again == h);
}

void check(const std::optional<Histogram>& h, const std::string& error) {
  if (h) {
    exercise(*h);
  } else {
    require(!error.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string error;
  check(portd::load::decodeHistogram(input, &error, limits()), error);
  check(portd::load::decodeBase64Histogram(input, &error, limits()), error);

  portd::load::IntervalLogReader reader(input, limits());
  while (std::optional<portd::load::IntervalLogEntry> entry = reader.next(&error)) {
    require(std::isfinite(entry->start) && entry->length >= 0.0 && entry->max >= 0.0);
    exercise(entry->histogram);
  }
  return 0;
}
