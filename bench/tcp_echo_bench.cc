// TCP echo through the daemon's own TcpListener, Connection and echo handler, on a loop run by
// the benchmark thread. One iteration: the client writes the request, the loop turns until the
// listener has read it and written the echo, the client reads the echo back. Its time therefore
// includes the client's send() and recv() as well as the server's epoll_wait(), read() and
// write(): it is the cost of the path with no thread hand-off, not a latency a remote client
// would see.

#include <string>

#include "bench_support.h"

namespace portd::bench {
namespace {

// Args: message size, and how many such messages the client coalesces into one write.
void BM_TcpEcho(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  const auto messages = static_cast<size_t>(state.range(1));
  LoopRig rig;
  {
    TcpEchoPair pair(rig);
    const std::string request = patterned(size * messages);
    AllocationSnapshot before;
    AllocationSnapshot after;
    auto exchange = [&](bool verify) { return pair.exchange(request, verify); };
    if (pair.error().empty() && runExchanges(state, rig.context(), exchange, &before, &after)) {
      setProcessed(state, request.size(), messages);
      reportAllocations(state, before, after);
    } else {
      state.SkipWithError(pair.error().c_str());
    }
  }
  closeRig(state, rig);
}
BENCHMARK(BM_TcpEcho)
    ->ArgNames({"size", "coalesced"})
    ->Args({16, 1})
    ->Args({1024, 1})
    ->Args({16384, 1})
    ->Args({16, 16});

// The claim that reading and queueing output allocate nothing once the pools are warm. The run
// fails if either buffer pool takes a block from the heap after warm-up.
//
// The client reads through a 64 KiB receive buffer. The 8 MiB request is then more than the
// kernel holds on loopback (the server's send buffer grows to 4 MiB at most), so uv_try_write()
// leaves part of the echo unsent, the connection's OutputQueue takes blocks from the write pool,
// and reading pauses at write_buffer_limit (1 MiB) and resumes. write_pool_blocks (blocks the
// write pool ever took from the heap) shows that this path ran. Only the pools are enforced;
// heap_allocs_per_iter is reported beside them because it also sees the memory the pools do not
// manage, such as the OutputQueue's own bookkeeping.
void BM_TcpEchoPoolReuse(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  constexpr int kSlowReaderBuffer = 64 * 1024;
  LoopRig rig;
  {
    TcpEchoPair pair(rig, kSlowReaderBuffer);
    const std::string request = patterned(size);
    AllocationSnapshot before;
    AllocationSnapshot after;
    auto exchange = [&](bool verify) { return pair.exchange(request, verify); };
    if (pair.error().empty() && runExchanges(state, rig.context(), exchange, &before, &after)) {
      setProcessed(state, size, 1);
      reportAllocations(state, before, after);
      state.counters["write_pool_blocks"] = static_cast<double>(after.write_pool);
      if (after.read_pool != before.read_pool || after.write_pool != before.write_pool) {
        state.SkipWithError("a buffer pool allocated after warm-up");
      }
    } else {
      state.SkipWithError(pair.error().c_str());
    }
  }
  closeRig(state, rig);
}
BENCHMARK(BM_TcpEchoPoolReuse)->ArgName("size")->Arg(16)->Arg(16384)->Arg(8 << 20);

}  // namespace
}  // namespace portd::bench
