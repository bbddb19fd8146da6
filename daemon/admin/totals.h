#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "admin/server_state.h"

namespace portd::admin {

// The aggregation behind /metrics and /stats: workers keep their own counters, and these sum
// them when a scrape asks, so a scrape costs the scraper, never the hot path.

// One label's series of a listener (a handler's series_declare), summed over the workers and
// the instances: a label value that more than one of them has open shows once, its counters
// summed and its largest gauge.
struct SeriesValues {
  std::vector<std::pair<std::string, uint64_t>> counters;  // in the order declared
  std::vector<std::pair<std::string, double>> gauges;
};
struct SeriesTotals {
  std::string label;
  std::map<std::string, SeriesValues> values;  // by label value
};

// Adds the series open now in `series` (one worker's) to `out` (by label, first seen order).
void sumSeries(const net::HandlerSeries& series, std::vector<SeriesTotals>* out);

// One listener's counters summed over the workers.
struct Totals {
  uint64_t accepted = 0, closed = 0, rejected = 0, accept_errors = 0, idle_timeouts = 0;
  uint64_t handler_errors = 0, bytes_in = 0, bytes_out = 0;
  uint64_t datagrams_in = 0, datagrams_out = 0, datagrams_dropped = 0;
  uint64_t refused_own_address = 0, refused_blocked_port = 0, replies_refused_rate = 0;
  uint64_t requests = 0, bad_requests = 0, too_large = 0, timeouts = 0, latency_sum_us = 0;
  std::array<uint64_t, 5> responses{};
  std::array<uint64_t, net::RequestStats::kBucketsUs.size() + 1> latency{};
  std::array<uint64_t, net::kFaultKinds> faults{};
  std::vector<std::pair<std::string, uint64_t>> handler;  // named counters, first seen order
  std::vector<SeriesTotals> series;                       // labelled series, by label

  uint64_t active() const { return accepted - rejected - closed; }
  bool has_requests = false;  // a handler with requests serves this listener
};

// The names of Totals::responses' buckets.
inline constexpr const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

// Listener `listener`'s counters summed over every worker that ever ran.
Totals sum(const ServerState& state, const std::string& listener);

// Process figures from /proc: open descriptors, resident memory; and what built portd.
uint64_t openFds();
uint64_t residentBytes();
std::string compiler();

}  // namespace portd::admin
