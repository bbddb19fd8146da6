// The histogram layer of `portd load` (daemon/load/): what a recorded latency costs, and what
// merging, querying and encoding a full histogram cost, since the load generator does each of
// these once per interval and per worker. "Full" means 1 µs .. 1 h with 3 digits (the
// default, 23552 counts) holding a million values spread over the logarithm of that range,
// so that most counts are non-zero, as after a long run with a wide latency spread.

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "load/hdr_codec.h"
#include "load/histogram.h"

namespace portd::bench {
namespace {

std::vector<int64_t> latencies(size_t n) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> exponent(0.0, std::log(3.6e9));
  std::vector<int64_t> values(n);
  for (int64_t& v : values) {
    v = static_cast<int64_t>(std::exp(exponent(rng)));
  }
  return values;
}

const load::Histogram& full() {
  static const load::Histogram h = [] {
    load::Histogram histogram;
    for (int64_t v : latencies(1000000)) {
      histogram.record(v);
    }
    return histogram;
  }();
  return h;
}

// One record() of values that miss the cache as real latencies do: 64 Ki values cycled.
void BM_HistogramRecord(benchmark::State& state) {
  const std::vector<int64_t> values = latencies(1 << 16);
  load::Histogram h;
  size_t i = 0;
  for (auto _ : state) {
    h.record(values[i++ & 0xffff]);
    // Every count stored, as if the histogram were read later: no store may be optimized away.
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(h.totalCount());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

// add() of one full histogram into another of the same layout (counts added index by index)
// and of another precision (every count recorded again by value).
void BM_HistogramAdd(benchmark::State& state, int digits) {
  load::Histogram into(1, 3'600'000'000, digits);
  for (auto _ : state) {
    into.add(full());
    benchmark::DoNotOptimize(into.totalCount());
  }
}
BENCHMARK_CAPTURE(BM_HistogramAdd, same_layout, 3);
BENCHMARK_CAPTURE(BM_HistogramAdd, two_digits, 2);

void BM_HistogramValueAtPercentile(benchmark::State& state) {
  const double percentile = static_cast<double>(state.range(0)) / 10.0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(full().valueAtPercentile(percentile));
  }
}
BENCHMARK(BM_HistogramValueAtPercentile)->ArgName("permille")->Arg(500)->Arg(999);

// What one interval log line costs: the compressed form in base64.
void BM_HistogramEncode(benchmark::State& state) {
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = load::encodeCompressedBase64(full());
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_HistogramEncode);

void BM_HistogramDecode(benchmark::State& state) {
  const std::string text = load::encodeCompressedBase64(full());
  std::string error;
  for (auto _ : state) {
    std::optional<load::Histogram> h = load::decodeBase64Histogram(text, &error);
    benchmark::DoNotOptimize(h->totalCount());
  }
}
BENCHMARK(BM_HistogramDecode);

}  // namespace
}  // namespace portd::bench
