#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "net/listener_stats.h"

namespace portd::handlers::http {

// Response latencies in power-of-two buckets of microseconds: bucket 0 counts latencies below
// 1 us, bucket i (0 < i < kBuckets - 1) those in [2^(i-1), 2^i) us, and the last bucket
// everything from 2^(kBuckets-2) us (about 18 minutes) up. Recording is a count-leading-zeros
// and an increment.
struct LatencyHistogram {
  static constexpr size_t kBuckets = 32;
  std::array<uint64_t, kBuckets> counts{};

  static size_t bucketOf(uint64_t micros) {
    size_t b = micros == 0 ? 0 : static_cast<size_t>(64 - __builtin_clzll(micros));
    return b < kBuckets ? b : kBuckets - 1;
  }
  // The exclusive upper bound of `bucket` in microseconds; 0 for the last, unbounded one.
  static uint64_t upperBoundMicros(size_t bucket) {
    return bucket + 1 < kBuckets ? uint64_t{1} << bucket : 0;
  }
  void record(uint64_t micros) { ++counts[bucketOf(micros)]; }
  uint64_t total() const {
    uint64_t n = 0;
    for (uint64_t c : counts) {
      n += c;
    }
    return n;
  }
};

// The counters of one http listener on one worker, kept in its handler instance
// (HttpHandler::stats()). Only that worker's thread writes them. What the metrics show goes
// to `shared` as well: the listener's net::RequestStats on this worker, which a scrape reads
// from another thread (single-writer counters).
struct HttpStats {
  net::RequestStats* shared = nullptr;

  uint64_t requests = 0;  // requests read completely (a rejected request is not counted)
  // Responses by status class: [1] 1xx (100 Continue), [2] 2xx ... [5] 5xx; [0] is unused.
  std::array<uint64_t, 6> responses_by_class{};
  uint64_t bad_requests = 0;        // malformed or refused requests answered with 400
  uint64_t header_timeouts = 0;     // 408: the request head did not arrive in header_timeout
  uint64_t keepalive_timeouts = 0;  // idle keep-alive connections closed
  uint64_t delayed_responses = 0;   // /echo responses held back by delay=
  // Writes handed to the connection: responses made while handling one read leave together, so
  // this grows more slowly than the response count when clients pipeline.
  uint64_t writes = 0;
  // From the first byte of a request to its response being handed to the connection (final
  // responses only), so a delay= shows here as it does to the client.
  LatencyHistogram latency;

  uint64_t responses() const {
    uint64_t n = 0;
    for (size_t i = 2; i < responses_by_class.size(); ++i) {
      n += responses_by_class[i];
    }
    return n;
  }
  void countResponse(int status) {
    size_t c = static_cast<size_t>(status / 100);
    ++responses_by_class[c < responses_by_class.size() ? c : 0];
    shared->respond(status);
    if (status == 413 || status == 431) {
      ++shared->too_large;
    }
  }
  void countRequest() {
    ++requests;
    ++shared->requests;
  }
  void countBadRequest() {
    ++bad_requests;
    ++shared->bad_requests;
  }
  void countHeaderTimeout() {
    ++header_timeouts;
    ++shared->timeouts;
  }
  void recordLatency(uint64_t micros) {
    latency.record(micros);
    shared->observe(micros);
  }
};

}  // namespace portd::handlers::http
