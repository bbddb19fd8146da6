// portd_bench: microbenchmarks of the read -> handler -> write path on a real libuv loop.

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include "alloc_counter.h"

int main(int argc, char** argv) {
  // Before anything else touches libuv: it accepts a new allocator only while it has allocated
  // nothing.
  portd::bench::countLibuvAllocations();
  // The daemon's per-connection messages are debug level; warnings and errors still show.
  spdlog::set_level(spdlog::level::warn);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
