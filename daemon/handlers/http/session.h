#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/precise_timers.h"
#include "handlers/http/http_config.h"
#include "handlers/http/request_parser.h"
#include "handlers/http/response.h"

namespace portd::net {
class Connection;
}

namespace portd::handlers::http {

class HttpHandler;
struct Route;

// The HTTP/1.x state of one connection: a RequestParser, which reads and checks the requests,
// where the current request goes, and two timers (the head deadline or keep-alive timeout, and
// the delay of an /echo response). Loop thread only.
//
// Requests are answered in the order they arrive. Responses go to the worker's output buffer
// (HttpHandler::out()), which is handed to the connection once at the end of each read or timer
// callback, so that the answers to pipelined requests that arrived together leave in one write.
// An /echo response with a delay holds back the requests behind it: reading pauses and the bytes
// already read wait in the session until the delayed response has been sent.
//
// Output is bounded the same way: once the responses made so far and the connection's queued
// output together pass the listener's write_buffer_limit, the session stops taking requests
// from its input, hands what it has to the connection and keeps the unparsed rest. A read of
// small pipelined requests that each ask for a large answer would otherwise be rendered whole
// before the limit is looked at. If the kernel took enough, parsing goes on at once; if not, the
// connection stops reading and the rest waits until onWritable(). A connection so costs at most
// the limit, one response and one read block. A large size= body (the /echo filler) is not
// rendered at all: it is written by reference to one shared, read-only block as the connection
// takes it (Phase::kStreaming), so it costs no copy however large it is.
//
// Lifetime: made (or taken from the handler's pool) when a connection between requests sends
// its first byte, and given back to the pool once it is between requests again with nothing
// held (parkable()): an idle keep-alive connection holds no session, only a node of the
// handler's IdleList, which runs the idle timeouts meanwhile. detach() (from onClose(), or for
// a pooled session when the handler goes) closes the timers, and the session deletes itself in
// their close callbacks, never in the middle of a callback.
class Session {
 public:
  Session(HttpHandler& handler, net::Connection& conn);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // A pooled session takes up `conn`, whose first bytes are about to arrive.
  void attach(net::Connection& conn);
  // Between requests, nothing kept back, nothing owed, not draining: the connection can do
  // without its session until it sends again.
  bool parkable() const;
  // Leaves the connection (stops the timers); the session goes back to the pool.
  void park();
  // At the end of an event: parks the session if it can, else arms the idle timeout it is in.
  void settle(HttpHandler& handler);
  net::Connection* connection() const { return conn_; }

  void onData(std::string_view data);
  // The connection's queued output fell to half the limit: serves the requests kept back.
  void onWritable();
  // Its connection closed: stops the deadline and a pending delay and forgets the request in
  // progress, so that the pool can hand it to another connection (attach) instead of closing
  // its timer, which would cost the loop a turn of libuv for each closed connection.
  void recycle();
  void detach();
  // The daemon is draining: close now if no request is in progress, else after its response.
  void drain();

 private:
  enum class Phase {
    kIdle,       // between requests: the keep-alive timeout runs
    kHead,       // reading a request line and headers: the head deadline runs
    kBody,       // reading a body
    kDelayed,    // a delayed /echo response waits; reading is paused
    kBlocked,    // the output is over write_buffer_limit; the input behind waits for onWritable()
    kStreaming,  // a large size= body goes out as the connection takes it; input waits as in
                 // kBlocked
    kClosing,    // the last response is out or the connection is going: input is ignored
  };
  enum class Target { kNotFound, kRoute, kEcho, kDynamic };

  ~Session() = default;

  // Feeds `data` to the parser and answers what completes. Returns how many bytes it used: all,
  // unless a delayed response or the output limit (Phase::kBlocked) stopped it.
  size_t parse(std::string_view data);
  // parse(), handing the output to the connection whenever it fills up, for as long as the
  // connection takes it without going over its limit. Returns how many bytes it used.
  size_t serve(std::string_view data);
  // The responses not yet handed over and the connection's queued output pass its limit.
  bool outputFull() const;
  // Input waits in pending_: behind a delayed response, a full output or a streaming body.
  bool holdsInput() const {
    return phase_ == Phase::kDelayed || phase_ == Phase::kBlocked || phase_ == Phase::kStreaming;
  }
  // A response's head is out and `bytes` of size= filler are owed: Phase::kStreaming.
  void startBody(uint64_t bytes, Persistence persistence);
  // Sends owed filler, by reference, until the connection's queue passes its limit or the body
  // is complete (then the response is done).
  void pumpBody();
  // The head of a request passed the parser's checks: routes it, and sends 100 Continue if the
  // client waits for it.
  void headersDone();
  void messageDone();
  void respond();
  void respondEcho(Persistence persistence, bool head_only);
  // After a final response: records its latency, then waits for the next request or closes.
  void responded(Persistence persistence);
  // Answers with a canned error and closes: the request cannot be trusted or was refused.
  void fail(int status);
  // Flushes the worker's output buffer to the connection, and closes it if the session is done.
  void finishEvent();

  void beginHead();
  // `first`: the connection has just been accepted and sent nothing yet; it gets the shorter
  // of header_timeout and keepalive_timeout.
  void enterIdle(bool first = false);
  void armDeadline(uint64_t due_ms);
  uint64_t now() const;
  Persistence persistence() const;
  void recordLatency();

  static void onDeadline(uv_timer_t* t);
  static void onDelayDone(core::PreciseTimers::Timer* t);
  static void onTimerClosed(uv_handle_t* h);

  HttpHandler& handler_;
  net::Connection* conn_;  // null once detached
  RequestParser parser_;
  uv_timer_t deadline_timer_;
  core::PreciseTimers::Timer delay_;
  int open_handles_ = 0;

  Phase phase_ = Phase::kIdle;

  // The request being answered: where it goes, and when its first byte was read.
  Target target_ = Target::kNotFound;
  const Route* route_ = nullptr;
  DynamicRoutes::Response dynamic_;  // for Target::kDynamic
  uint64_t start_ns_ = 0;

  // Timers. The deadline timer is not re-armed per request: it stays armed for the earliest
  // deadline and re-arms itself when it fires early (as Connection's idle timer does).
  uint64_t head_deadline_ms_ = 0;
  uint64_t idle_since_ms_ = 0;
  uint64_t idle_timeout_ms_ = 0;  // of the idle phase in progress; 0 = none
  uint64_t armed_due_ms_ = 0;
  bool armed_ = false;

  // A size= body being streamed (Phase::kStreaming), and what follows it.
  uint64_t body_left_ = 0;
  Persistence body_persistence_ = Persistence::kKeepAlive;

  // A delayed response: its head and inline body, and the filler owed after them.
  std::string delayed_;
  uint64_t delayed_body_ = 0;
  int delayed_status_ = 0;
  bool delayed_close_ = false;
  // A request was refused before all of it was read (413, 431, a bad chunk...): the peer may
  // still be sending it, so the close lingers (net::Connection::closeLingering) and the peer
  // reads the answer instead of a reset.
  bool refused_unread_ = false;
  // The input behind a delayed response or behind the response that filled the output: at
  // most one read block, since reading is paused meanwhile. Its capacity stays, so that a
  // connection that fills its output again and again does not allocate each time.
  std::string pending_;
};

}  // namespace portd::handlers::http
