#include "load/runner.h"

#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <vector>

#include "load/interval_log.h"
#include "load/worker.h"

namespace portd::load {

namespace {

double epochSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string formatStages(const std::vector<Stage>& stages) {
  std::string s;
  char buf[96];
  for (const Stage& st : stages) {
    if (st.from_rate == st.to_rate) {
      std::snprintf(buf, sizeof buf, "%s%gs@%g", s.empty() ? "" : ",", st.seconds, st.from_rate);
    } else {
      std::snprintf(buf, sizeof buf, "%s%gs@%g-%g", s.empty() ? "" : ",", st.seconds, st.from_rate,
                    st.to_rate);
    }
    s += buf;
  }
  return s;
}

// The main thread's side of a run: a loop that wakes once a second (progress line, interval
// log, timeline), on SIGINT/SIGTERM (stop) and when a worker ends.
class Monitor {
 public:
  Monitor(const LoadOptions& options, const RunOutput& output, uint64_t start_ns,
          double start_epoch, std::ofstream* log, SharedProgress& shared,
          std::vector<Second>* timeline)
      : options_(options),
        output_(output),
        start_ns_(start_ns),
        start_epoch_(start_epoch),
        log_(log),
        shared_(shared),
        timeline_(timeline) {
    progress_ = output.progress && ::isatty(STDERR_FILENO) == 1;
  }

  void tick(bool last) {
    Histogram interval;
    uint64_t completed = 0;
    uint64_t errors = 0;
    {
      std::lock_guard<std::mutex> lock(shared_.mutex);
      interval.add(shared_.interval);
      completed = shared_.interval_completed;
      errors = shared_.interval_errors;
      shared_.interval.reset();
      shared_.interval_completed = 0;
      shared_.interval_errors = 0;
    }
    // The workers cut their figures at whole seconds of the run: interval n is [n, n+1),
    // and the last one ends when the run did.
    const double t = static_cast<double>(uv_hrtime() - start_ns_) / 1e9;
    const double length = last ? std::max(0.0, t - last_tick_) : 1.0;
    if (log_ != nullptr && (completed > 0 || !last)) {
      *log_ << formatLogEntry("", last_tick_, length, interval);
      log_->flush();
    }
    total_.add(interval);
    total_completed_ += completed;
    total_errors_ += errors;
    if (!last || completed > 0 || errors > 0) {
      timeline_->push_back(Second{completed, errors, interval.valueAtPercentile(99.0)});
    }
    last_tick_ += 1.0;
    if (progress_ && t >= 2.0) {
      const double p99 = static_cast<double>(total_.valueAtPercentile(99.0)) / 1000.0;
      std::fprintf(stderr, "\r%6.0fs  %10.1f req/s  %8llu errors  p99 %9.3f ms ", t,
                   length > 0 ? static_cast<double>(completed) / length : 0.0,
                   static_cast<unsigned long long>(total_errors_), p99);
      shown_ = true;
    }
    if (last && shown_) {
      std::fprintf(stderr, "\r%*s\r", 72, "");
    }
  }

 private:
  const LoadOptions& options_;
  const RunOutput& output_;
  const uint64_t start_ns_;
  const double start_epoch_;
  std::ofstream* log_;
  SharedProgress& shared_;
  std::vector<Second>* timeline_;
  bool progress_ = false;
  bool shown_ = false;
  double last_tick_ = 0;
  Histogram total_;
  uint64_t total_completed_ = 0;
  uint64_t total_errors_ = 0;
};

}  // namespace

bool runLoad(const LoadOptions& options, const RunOutput& output, Result* result,
             std::string* error) {
  std::unique_ptr<Schedule> schedule;
  if (options.open()) {
    schedule = std::make_unique<Schedule>(options.stages);
  }
  std::ofstream log;
  if (!output.log_path.empty()) {
    log.open(output.log_path, std::ios::out | std::ios::trunc);
    if (!log) {
      *error = "cannot write the interval log \"" + output.log_path + "\"";
      return false;
    }
  }

  SharedProgress shared;
  const int threads = std::max(1, options.threads);
  // Every thread starts at the same moment, a little ahead so that all are ready.
  const double start_epoch = epochSeconds() + 0.02;
  const uint64_t start_ns = uv_hrtime() + 20'000'000;
  if (log.is_open()) {
    IntervalLogHeader header;
    header.start_time = start_epoch;
    header.comment = "Logged with portd load";
    log << formatLogHeader(header);
  }
  Result r;
  Monitor monitor(options, output, start_ns, start_epoch, log.is_open() ? &log : nullptr, shared,
                  &r.timeline);

  uv_loop_t loop;
  uv_loop_init(&loop);
  struct Ctx {
    std::vector<std::unique_ptr<LoadWorker>> workers;
    SharedProgress* shared;
    Monitor* monitor;
    int threads;
    uv_async_t done;
    uv_timer_t second;
    uv_signal_t sigint;
    uv_signal_t sigterm;
  } ctx;
  ctx.shared = &shared;
  ctx.monitor = &monitor;
  ctx.threads = threads;
  uv_async_init(&loop, &ctx.done, [](uv_async_t* a) {
    auto* c = static_cast<Ctx*>(a->data);
    if (c->shared->finished.load() < c->threads) {
      return;
    }
    // Every worker has counted itself finished. A worker may still be about to send `done`
    // (it counts, then sends), so the handle stays open until they are joined, below.
    uv_stop(a->loop);
  });
  uv_timer_init(&loop, &ctx.second);
  uv_signal_init(&loop, &ctx.sigint);
  uv_signal_init(&loop, &ctx.sigterm);
  ctx.done.data = ctx.second.data = ctx.sigint.data = ctx.sigterm.data = &ctx;
  auto on_signal = [](uv_signal_t* s, int) {
    auto* c = static_cast<Ctx*>(s->data);
    c->shared->stop.store(true);
    for (auto& w : c->workers) {
      w->wake();
    }
  };
  uv_signal_start(&ctx.sigint, on_signal, SIGINT);
  uv_signal_start(&ctx.sigterm, on_signal, SIGTERM);
  for (int i = 0; i < threads; ++i) {
    ctx.workers.push_back(
        std::make_unique<LoadWorker>(options, schedule.get(), i, start_ns, shared, &ctx.done));
  }
  for (auto& w : ctx.workers) {
    w->start();
  }
  uv_timer_start(
      &ctx.second, [](uv_timer_t* t) { static_cast<Ctx*>(t->data)->monitor->tick(false); },
      // 60 ms after each whole second: the workers hand over theirs within a sweep (20 ms).
      1080, 1000);
  uv_run(&loop, UV_RUN_DEFAULT);
  for (auto& w : ctx.workers) {
    w->join();  // after which nothing sends `done` any more
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&ctx.done), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&ctx.second), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&ctx.sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&ctx.sigterm), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  monitor.tick(true);

  uint64_t end_ns = start_ns;
  double jitter = 0;
  for (auto& w : ctx.workers) {
    w->join();
    r.counters.add(w->counters());
    r.histograms.add(w->histograms());
    end_ns = std::max(end_ns, w->endNs());
    jitter = std::max(jitter, w->jitterUs());
  }
  r.url = options.target.url;
  r.model = options.subscribe ? "receive" : options.open() ? "open" : "closed";
  if (schedule != nullptr) {
    r.stages = formatStages(options.stages);
    r.schedule_seconds = schedule->seconds();
    r.asked_rate = static_cast<double>(schedule->total()) / schedule->seconds();
  }
  r.start_time = start_epoch;
  r.seconds = static_cast<double>(end_ns - start_ns) / 1e9;
  r.threads = threads;
  r.connections = options.connections > 0 ? options.connections : 10;
  r.pipeline = options.pipeline;
  r.interrupted = shared.stop.load();
  const Scheme scheme = options.target.scheme;
  r.jitter_us = scheme == Scheme::kUdp || scheme == Scheme::kStream || scheme == Scheme::kStreamTcp
                    ? jitter
                    : 0;
  *result = std::move(r);
  return true;
}

}  // namespace portd::load
