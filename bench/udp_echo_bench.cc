// UDP echo through the daemon's own UdpSocket and echo handler, on a loop run by the benchmark
// thread. One iteration: the client sends a batch of datagrams in one sendmmsg(), the loop turns
// until the socket has received them (recvmmsg) and answered (sendmmsg), the client reads the
// echoes back with recvmmsg(). As with TCP, the time includes the client's system calls.

#include "bench_support.h"

namespace portd::bench {
namespace {

// Args: datagram size, and how many datagrams the client sends together.
void BM_UdpEcho(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  const auto batch = static_cast<size_t>(state.range(1));
  LoopRig rig;
  {
    UdpEchoPair pair(rig);
    AllocationSnapshot before;
    AllocationSnapshot after;
    auto exchange = [&](bool verify) { return pair.exchange(size, batch, verify); };
    if (!pair.error().empty() || !runExchanges(state, rig.context(), exchange, &before, &after)) {
      state.SkipWithError(pair.error().c_str());
    } else if (pair.socket().stats().datagrams_dropped.load() != 0) {
      state.SkipWithError("the server dropped datagrams");
    } else {
      setProcessed(state, size * batch, batch);
      reportAllocations(state, before, after);
    }
  }
  closeRig(state, rig);
}
BENCHMARK(BM_UdpEcho)
    ->ArgNames({"size", "batch"})
    ->Args({16, 1})
    ->Args({1024, 1})
    ->Args({16384, 1})
    ->Args({16, 16});

}  // namespace
}  // namespace portd::bench
