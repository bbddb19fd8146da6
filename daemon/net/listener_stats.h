#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/counter.h"
#include "core/series_table.h"
#include "net/faults.h"

namespace portd::net {

// Named counters of handler instances (the plugin interface's counter()). Values are
// single-writer counters; names are added when an instance is created, which a reload can do
// while a scrape reads them, so the names (not the values) are behind a mutex.
class HandlerCounters {
 public:
  static constexpr size_t kMax = 32;

  // The index of `name`, registered if new; -1 when all kMax are taken.
  int index(const std::string& name) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == name) {
        return static_cast<int>(i);
      }
    }
    if (names_.size() == kMax) {
      return -1;
    }
    names_.push_back(name);
    return static_cast<int>(names_.size() - 1);
  }
  bool valid(int index) const { return index >= 0 && static_cast<size_t>(index) < kMax; }
  void add(int index, uint64_t delta) { values_[static_cast<size_t>(index)] += delta; }
  std::vector<std::pair<std::string, uint64_t>> snapshot() const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, uint64_t>> out;
    for (size_t i = 0; i < names_.size(); ++i) {
      out.emplace_back(names_[i], values_[i].load());
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> names_;
  std::array<core::Counter, kMax> values_;
};

// Labelled series of the handler instances of one listener on one worker (the plugin
// interface's series_declare()). Each instance owns its tables; it adds them here when it is
// created and takes them out when it is destroyed, both on the worker thread, while a scrape
// may list them: the list (not the figures, which SeriesTable publishes itself) is behind a
// mutex, as HandlerCounters' names are.
class HandlerSeries {
 public:
  void add(std::shared_ptr<const core::SeriesTable> table) {
    std::lock_guard lock(mutex_);
    tables_.push_back(std::move(table));
  }
  void remove(const core::SeriesTable* table) {
    std::lock_guard lock(mutex_);
    std::erase_if(tables_, [&](const auto& t) { return t.get() == table; });
  }
  // The tables now; a scrape reads them after the lock is released, and keeps one that its
  // instance drops meanwhile alive until it is done.
  std::vector<std::shared_ptr<const core::SeriesTable>> tables() const {
    std::lock_guard lock(mutex_);
    return tables_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const core::SeriesTable>> tables_;
};

// Request counts and latencies of handlers that have requests (http).
struct RequestStats {
  // Upper bounds of the latency histogram, in microseconds (Prometheus "le" labels).
  static constexpr std::array<uint64_t, 14> kBucketsUs = {100,    250,    500,     1000,    2500,
                                                          5000,   10000,  25000,   50000,   100000,
                                                          250000, 500000, 1000000, 10000000};

  // Set by handlers that have requests, so that their series show before the first one.
  std::atomic<bool> has_requests{false};
  core::Counter requests;
  std::array<core::Counter, 5> responses;                    // by status class: 1xx .. 5xx
  core::Counter bad_requests;                                // malformed: 400
  core::Counter too_large;                                   // 413 and 431
  core::Counter timeouts;                                    // 408
  std::array<core::Counter, kBucketsUs.size() + 1> latency;  // last: +Inf
  core::Counter latency_sum_us;

  void observe(uint64_t us) {
    size_t i = 0;
    while (i < kBucketsUs.size() && us > kBucketsUs[i]) {
      ++i;
    }
    ++latency[i];
    latency_sum_us += us;
  }
  void respond(int status) {
    if (status >= 100 && status < 600) {
      ++responses[static_cast<size_t>(status / 100 - 1)];
    }
  }
};

// Counters of one listener on one worker. Only that worker writes them; a metrics scrape sums
// the workers' copies, so the hot path shares no cache line with another thread.
struct ListenerStats {
  core::Counter accepted;
  core::Counter closed;
  core::Counter rejected;  // over max_connections
  core::Counter accept_errors;
  core::Counter idle_timeouts;
  core::Counter handler_errors;  // callbacks that failed
  core::Counter bytes_in;
  core::Counter bytes_out;
  core::Counter datagrams_in;
  core::Counter datagrams_out;
  core::Counter datagrams_dropped;
  // Datagrams dropped before the handler saw them (they are counted in datagrams_in and
  // bytes_in too): sent from one of the listener's own addresses and its port, which an answer
  // would send straight back to the listener; or from a port of blocked_source_ports.
  core::Counter datagrams_refused_own_address;
  core::Counter datagrams_refused_blocked_port;
  // Replies a handler made that were not sent because their destination had used up its
  // share of reply_rate.
  core::Counter replies_refused_rate;
  // Faults injected on purpose, by FaultKind.
  std::array<core::Counter, kFaultKinds> faults;
  RequestStats requests;
  HandlerCounters handler;
  HandlerSeries series;
};

}  // namespace portd::net
