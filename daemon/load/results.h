#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "load/histogram.h"

namespace portd::load {

// What went wrong with a request or a connection, counted by kind.
enum class ErrorKind {
  kConnectRefused,  // the target refused the connection
  kConnectTimeout,  // no answer to the connect within the timeout
  kConnectOther,    // unreachable, reset during connect, ...
  kClosed,          // the target closed or reset the connection with requests outstanding
  kTimeout,         // no answer within the timeout (the connection is replaced)
  kMalformed,       // an answer that is not of the protocol (the connection is replaced)
  kMismatch,        // tcp: the echo differs from what was sent
  kUnsent,          // open model: due, but no connection could take it before the end
  kLost,            // udp: no answer within the timeout; stream --subscribe: never arrived
  kFraming,         // stream+tcp: a length prefix out of range (the connection is dropped)
  kCount
};
std::string_view errorName(ErrorKind k);

// dns: answers are counted by RCODE, 0 to 15 by their names (RFC 6895's registry: NOERROR,
// FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, ...; RCODE12 to RCODE15 unassigned), and the
// extended RCODEs of EDNS (16 and above) together as "other".
inline constexpr size_t kRcodeSlots = 17;
std::string_view rcodeName(size_t slot);

// The counters of a run (one thread's, or merged): plain numbers that add up.
struct Counters {
  uint64_t sent = 0;       // requests written
  uint64_t completed = 0;  // answers received (any status)
  uint64_t bytes_out = 0;
  uint64_t bytes_in = 0;
  uint64_t connections = 0;  // connects that succeeded
  std::array<uint64_t, static_cast<size_t>(ErrorKind::kCount)> errors{};
  std::array<uint64_t, 6> status{};  // http: 1xx .. 5xx, then anything else
  // dns: answers by RCODE; and those truncated (TC=1), which are in `rcode` too
  std::array<uint64_t, kRcodeSlots> rcode{};
  uint64_t truncated = 0;
  // resp: error replies ("-ERR ..."), answers all the same (in `completed`).
  uint64_t resp_errors = 0;
  // smtp: each message's answer by reply class: 2xx (taken), 4xx, 5xx (refused).
  std::array<uint64_t, 3> smtp_replies{};
  // udp and stream
  uint64_t duplicates = 0;
  uint64_t reordered = 0;
  uint64_t late = 0;  // answers that came after their request was counted lost

  void add(const Counters& o);
  uint64_t errorTotal() const;
  uint64_t& error(ErrorKind k) { return errors[static_cast<size_t>(k)]; }
};

// The histograms of a run, in microseconds.
struct Histograms {
  Histogram corrected;    // from each request's intended start (open model) or its send
  Histogram uncorrected;  // from the actual send
  Histogram connect;      // TCP connect times
  Histogram first_byte;   // http: from the send to the first byte of the answer
  Histogram lag;          // open model: how late the generator sent each request

  void add(const Histograms& o);
  void reset();
};

// One second of a run, for the throughput-over-time chart.
struct Second {
  uint64_t completed = 0;
  uint64_t errors = 0;
  int64_t p99_us = 0;  // corrected
};

// A whole run, as reported and as written to --json (and read back by `merge`).
struct Result {
  std::string url;
  std::string model;            // "open", "closed" or "receive" (stream --subscribe)
  std::string stages;           // open: as asked
  double asked_rate = 0;        // open: requests the schedule had / its length
  double schedule_seconds = 0;  // open: the schedule's length
  double start_time = 0;        // seconds since the epoch
  double seconds = 0;           // how long it ran
  int threads = 0;
  int connections = 0;
  int pipeline = 0;
  int sources = 1;  // runs merged into this one
  bool interrupted = false;
  // udp and stream: RFC 3550 interarrival jitter, microseconds (largest of the merged runs):
  // of the round trips, or of the one-way transit of a received stream.
  double jitter_us = 0;
  Counters counters;
  Histograms histograms;
  std::vector<Second> timeline;

  double achievedRate() const;
};

}  // namespace portd::load
