#pragma once

#include <benchmark/benchmark.h>

#include "echo_rig.h"

namespace portd::bench {

// Exchanges run before the timed loop: they fill the buffer pools, let TCP grow its windows and
// check that the echo is byte-exact (the timed loop only counts bytes).
inline constexpr int kWarmUpExchanges = 200;

// Runs `exchange(verify)` kWarmUpExchanges times with verify = true, then once per benchmark
// iteration with verify = false, and snapshots the allocation counts around the timed loop.
// Returns false as soon as an exchange fails (the caller reports why).
template <typename Exchange>
bool runExchanges(benchmark::State& state, core::LoopContext& ctx, Exchange&& exchange,
                  AllocationSnapshot* before, AllocationSnapshot* after) {
  for (int i = 0; i < kWarmUpExchanges; ++i) {
    if (!exchange(true)) {
      return false;
    }
  }
  *before = AllocationSnapshot::take(ctx);
  for (auto _ : state) {
    if (!exchange(false)) {
      return false;
    }
  }
  *after = AllocationSnapshot::take(ctx);
  return true;
}

// Sets bytes/s and items/s from the bytes and items (messages) of one iteration.
void setProcessed(benchmark::State& state, size_t bytes, size_t items);

// Adds the allocation counters of one run, as averages per iteration:
//   pool_allocs_per_iter  blocks the read and write pools took from the heap after warm-up
//   heap_allocs_per_iter  every heap allocation in the process (operator new and libuv)
// Both are expected to be 0; benchmarks that check it say so.
void reportAllocations(benchmark::State& state, const AllocationSnapshot& before,
                       const AllocationSnapshot& after);

// Closes the rig's loop and marks the run failed if a handle was left open or the loop did not
// close. Call it after everything that owns handles has been destroyed.
void closeRig(benchmark::State& state, LoopRig& rig);

}  // namespace portd::bench
