// What a handler's update of a figure costs through the host table: counter_add (a named
// counter), and series_add / series_set (a labelled series of ABI 1.2, e.g. per peer), each an
// indirect call as a plugin makes it. The stream sink makes about three of each per message.

#include <benchmark/benchmark.h>
#include <portd/handler.h>
#include <uv.h>

#include <memory>
#include <string>

#include "core/loop_context.h"
#include "handlers/abi/abi_worker.h"
#include "handlers/abi/host_api.h"
#include "net/listener_stats.h"

namespace portd::bench {
namespace {

// One instance's view of a worker, as portd builds it for create(), on this thread's loop.
struct Rig {
  Rig() {
    uv_loop_init(&loop);
    context = std::make_unique<core::LoopContext>(&loop, 0);
    w.stats = &stats;
    w.loop = context.get();
    w.listener = "bench";
    w.creating = true;
    counter = host->counter(&w, "received");
    static const char* const counters[] = {"received", "received_bytes", "lost"};
    static const char* const gauges[] = {"jitter_seconds"};
    set = host->series_declare(&w, "peer", 1024, counters, 3, gauges, 1);
    w.creating = false;
    host->series_open(&w, set, "192.0.2.1:40112", 15, &series);
  }
  ~Rig() {
    context.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  const portd_host_api* host = handlers::abi::hostApi();
  uv_loop_t loop;
  std::unique_ptr<core::LoopContext> context;
  net::ListenerStats stats;
  portd_worker w;
  int counter = -1;
  int set = -1;
  portd_series_t series = 0;
};

void BM_CounterAdd(benchmark::State& state) {
  Rig r;
  for (auto _ : state) {
    r.host->counter_add(&r.w, r.counter, 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CounterAdd);

void BM_SeriesAdd(benchmark::State& state) {
  Rig r;
  for (auto _ : state) {
    r.host->series_add(&r.w, r.series, 1, 64);
  }
  benchmark::DoNotOptimize(r.stats.series.tables().front()->snapshot());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SeriesAdd);

void BM_SeriesSet(benchmark::State& state) {
  Rig r;
  double v = 0;
  for (auto _ : state) {
    r.host->series_set(&r.w, r.series, 0, v);
    v += 1e-9;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SeriesSet);

// A scrape's share: copying 1024 live rows out of the table.
void BM_SeriesSnapshot1024(benchmark::State& state) {
  Rig r;
  for (int i = 1; i < 1024; ++i) {
    portd_series_t s = 0;
    const std::string value = "192.0.2." + std::to_string(i % 250) + ":" + std::to_string(i);
    r.host->series_open(&r.w, r.set, value.data(), value.size(), &s);
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(r.stats.series.tables().front()->snapshot());
  }
  state.SetItemsProcessed(state.iterations() * 1024);
}
BENCHMARK(BM_SeriesSnapshot1024);

}  // namespace
}  // namespace portd::bench
