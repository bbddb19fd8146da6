#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "load/schedule.h"
#include "load/target.h"

namespace portd::load {

// Everything a `portd load URL` run is told on its command line.
struct LoadOptions {
  Target target;

  // Open model (arrivals on a fixed schedule, independent of the answers) when `stages` is not
  // empty (--rate with --duration is one stage); closed model (each connection keeps
  // `pipeline` requests outstanding, as fast as the target answers) otherwise.
  std::vector<Stage> stages;
  double duration_s = 10;  // closed model
  uint64_t requests = 0;   // closed model: stop after this many (0: after duration_s)
  int connections = 0;     // 0: 10 (open model: requests wait for a free one)
  int pipeline = 1;
  // Closed model, stream targets: a connection's next `pipeline` requests go only once all the
  // previous ones are answered (redis-benchmark's -P), rather than one as each is answered.
  bool batch = false;
  // Each thread polls without sleeping instead of blocking in epoll_wait: its CPU stays busy,
  // and the target's answers never have to wake a sleeping thread, a cost the kernel charges
  // to the target's CPU on loopback.
  bool busy_poll = false;
  int threads = 1;
  double timeout_s = 10;  // per request and per connect

  // http://
  std::string method = "GET";
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  uint64_t churn = 0;  // a new connection every N requests; 0 = keep-alive throughout

  // tcp:// and udp://: bytes per message (udp: at least the 32-byte header); stream://: bytes
  // per message, the 24-byte header included; resp://: bytes per value; smtp://: bytes per
  // message.
  size_t message_size = 64;
  // tcp:// and udp://: sockperf's message format instead of portd's (sockperf_codec.h), so
  // that `sockperf server` can be the target.
  bool sockperf = false;

  // resp://: the command mix, e.g. "get=8,set=1,ping=1", and how many keys it spreads over.
  std::string mix;
  uint64_t keys = 10000;

  // dns://: the queries, each "NAME TYPE" (e.g. "www.example.com A"), sent in turn, and whether
  // each carries an EDNS0 OPT record (UDP payload 1232).
  std::vector<std::string> queries;
  bool dns_edns = false;

  // stream:// and stream+tcp://: receive a source's stream (UDP: subscribe, answer the
  // challenge, unsubscribe at the end; TCP: connect and read) for duration_s, rather than send
  // messages to a sink for it to echo.
  bool subscribe = false;

  bool open() const { return !stages.empty(); }
};

}  // namespace portd::load
