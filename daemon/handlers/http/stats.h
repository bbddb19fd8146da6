#pragma once

#include <cstdint>

#include "net/listener_stats.h"

namespace portd::handlers::http {

// The counters of one http listener on one worker. What the metrics show (requests, responses
// by status class, 400/408/413/431, latency) is kept in the listener's net::RequestStats on
// this worker, which a scrape reads from another thread; the rest only this handler keeps.
// Only the worker's thread writes either.
class HttpStats {
 public:
  explicit HttpStats(net::RequestStats& shared) : shared_(shared) {
    shared_.has_requests.store(true, std::memory_order_relaxed);
  }

  // A request read completely (a rejected request is not counted).
  void countRequest() { ++shared_.requests; }
  void countResponse(int status) {
    shared_.respond(status);
    if (status == 413 || status == 431) {
      ++shared_.too_large;
    }
  }
  void countBadRequest() { ++shared_.bad_requests; }  // malformed or refused: 400
  void countHeaderTimeout() { ++shared_.timeouts; }   // 408: the head did not arrive in time
  // From the first byte of a request to its final response being handed to the connection, so
  // a delay= shows here as it does to the client.
  void recordLatency(uint64_t micros) { shared_.observe(micros); }

  uint64_t requests() const { return shared_.requests.load(); }
  // Responses of status class `c` (1 for 1xx ... 5 for 5xx).
  uint64_t responsesOfClass(int c) const {
    return shared_.responses[static_cast<size_t>(c - 1)].load();
  }
  uint64_t latencyCount() const {
    uint64_t n = 0;
    for (const core::Counter& c : shared_.latency) {
      n += c.load();
    }
    return n;
  }

  uint64_t keepalive_timeouts = 0;  // idle keep-alive connections closed
  uint64_t delayed_responses = 0;   // /echo responses held back by delay=
  // Writes handed to the connection: responses made while handling one read leave together, so
  // this grows more slowly than the response count when clients pipeline.
  uint64_t writes = 0;

 private:
  net::RequestStats& shared_;
};

}  // namespace portd::handlers::http
