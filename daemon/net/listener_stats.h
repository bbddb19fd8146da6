#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/counter.h"

namespace portd::net {

// Named counters of a handler instance (the plugin interface's counter()). Names are fixed once
// the instance is created, before the worker reports ready; values are single-writer counters.
struct HandlerCounters {
  static constexpr size_t kMax = 32;
  std::vector<std::string> names;
  std::array<core::Counter, kMax> values;
};

// Request counts and latencies of handlers that have requests (http).
struct RequestStats {
  // Upper bounds of the latency histogram, in microseconds (Prometheus "le" labels).
  static constexpr std::array<uint64_t, 14> kBucketsUs = {
      100,   250,    500,    1000,   2500,    5000,    10000,
      25000, 50000, 100000, 250000, 500000, 1000000, 10000000};

  core::Counter requests;
  std::array<core::Counter, 5> responses;  // by status class: 1xx .. 5xx
  core::Counter bad_requests;              // malformed: 400
  core::Counter too_large;                 // 413 and 431
  core::Counter timeouts;                  // 408
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
  RequestStats requests;
  HandlerCounters handler;
};

}  // namespace portd::net
