#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/precise_timers.h"
#include "handlers/handler.h"
#include "handlers/http/date_cache.h"
#include "handlers/http/idle_list.h"
#include "handlers/http/knobs.h"
#include "handlers/http/stats.h"
#include "handlers/http/xorshift.h"

namespace portd::handlers::http {

class HttpConfig;
class Session;

// The http handler of one listener on one worker: what that worker's sessions share. The
// output buffer, the Date line, the random generator and the scratch space of /echo queries are
// per worker, so that they need no lock and, once warm, no allocation.
class HttpHandler final : public Handler {
 public:
  // `shared`: the listener's request counters on this worker, which the metrics read.
  HttpHandler(const HttpConfig& config, uint64_t seed, net::RequestStats& shared);
  ~HttpHandler() override;

  void onOpen(net::Connection& conn) override;
  void onData(net::Connection& conn, std::string_view data) override;
  // The connection's output drained to half its limit: the session answers the requests it
  // kept back when the output was full.
  void onWritable(net::Connection& conn) override;
  void onClose(net::Connection& conn) override;
  // Draining: responses from now on say "Connection: close", and each connection closes once
  // it has no request in progress (idle keep-alive connections at once).
  void onDrain(net::Connection& conn) override;
  bool draining() const { return draining_; }

  // The counters of this listener on this worker.
  const HttpStats& stats() const { return stats_; }

  // For sessions.
  const HttpConfig& config() const { return config_; }
  HttpStats& mutableStats() { return stats_; }
  DateCache& date() { return date_; }
  Xorshift64& rng() { return rng_; }
  // Responses not yet handed to a connection. Empty between callbacks.
  std::string& out() { return out_; }
  // Hands out() to `conn` in one write and empties it.
  void flush(net::Connection& conn);
  EchoKnobs& knobs() { return knobs_; }
  std::string& knobScratch() { return knob_scratch_; }
  std::string& errorScratch() { return error_scratch_; }
  // The timers of delayed responses (/echo?delay=), to the microsecond.
  core::PreciseTimers& delays() { return delays_; }
  // `s` is between requests with nothing held (Session::parkable()): its connection goes to the
  // keep-alive list and the session back to the pool.
  void park(Session& s);

 private:
  static constexpr size_t kInitialCapacity = 16 * 1024;
  static constexpr size_t kKeepCapacity = 4 << 20;

  const HttpConfig& config_;
  bool draining_ = false;
  HttpStats stats_;
  DateCache date_;
  Xorshift64 rng_;
  std::string out_;
  EchoKnobs knobs_;
  std::string knob_scratch_;
  std::string error_scratch_;
  core::PreciseTimers delays_;

  // A connection's handler data is its Session while a request is in progress, and a node of
  // one of these lists, tagged in its low bit, between requests.
  Session* takeSession(net::Connection& conn);
  static void onIdleTimeout(void* self, net::Connection& conn);
  IdleList fresh_;      // accepted, no byte yet: min(header_timeout, keepalive_timeout)
  IdleList keepalive_;  // between requests: keepalive_timeout
  // Sessions between connections, so that a connection going busy again allocates nothing.
  std::vector<Session*> pool_;
};

}  // namespace portd::handlers::http
