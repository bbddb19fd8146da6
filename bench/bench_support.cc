#include "bench_support.h"

namespace portd::bench {

void setProcessed(benchmark::State& state, size_t bytes, size_t items) {
  const auto iterations = static_cast<int64_t>(state.iterations());
  state.SetBytesProcessed(iterations * static_cast<int64_t>(bytes));
  state.SetItemsProcessed(iterations * static_cast<int64_t>(items));
}

void reportAllocations(benchmark::State& state, const AllocationSnapshot& before,
                       const AllocationSnapshot& after) {
  auto per_iteration = [](uint64_t n) {
    return benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgIterations);
  };
  state.counters["pool_allocs_per_iter"] =
      per_iteration((after.read_pool - before.read_pool) + (after.write_pool - before.write_pool));
  state.counters["heap_allocs_per_iter"] = per_iteration(after.heap - before.heap);
}

void closeRig(benchmark::State& state, LoopRig& rig) {
  if (std::string error = rig.close(); !error.empty()) {
    state.SkipWithError(error.c_str());
  }
}

}  // namespace portd::bench
