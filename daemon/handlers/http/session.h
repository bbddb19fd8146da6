#pragma once

#include <llhttp.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "handlers/http/http_config.h"
#include "handlers/http/response.h"

namespace portd::net {
class Connection;
}

namespace portd::handlers::http {

class HttpHandler;
struct Route;

// The HTTP/1.x state of one connection: an llhttp parser, the request being read, and two
// timers (the head deadline or keep-alive timeout, and the delay of an /echo response). Loop
// thread only.
//
// Requests are answered in the order they arrive. Responses go to the worker's output buffer
// (HttpHandler::out()), which is handed to the connection once at the end of each read or timer
// callback, so that the answers to pipelined requests that arrived together leave in one write.
// An /echo response with a delay holds back the requests behind it: reading pauses and the bytes
// already read wait in the session until the delayed response has been sent.
//
// Lifetime: created by HttpHandler::onOpen(); detach() (from onClose()) closes the timers, and
// the session deletes itself in their close callbacks, never in the middle of a callback.
class Session {
 public:
  Session(HttpHandler& handler, net::Connection& conn);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void onData(std::string_view data);
  void detach();
  // The daemon is draining: close now if no request is in progress, else after its response.
  void drain();

 private:
  enum class Phase {
    kIdle,     // between requests: the keep-alive timeout runs
    kHead,     // reading a request line and headers: the head deadline runs
    kBody,     // reading a body
    kDelayed,  // a delayed /echo response waits; reading is paused
    kClosing,  // the last response is out or the connection is going: input is ignored
  };
  enum class Event { kNone, kHeadersDone, kMessageDone };
  enum class Target { kNotFound, kRoute, kEcho, kDynamic };

  ~Session() = default;

  // Feeds `data` to the parser and answers what completes. Returns how many bytes it used: all,
  // unless a delayed response stopped it.
  size_t parse(std::string_view data);
  void headersDone(const char* at, const char* begin);
  void messageDone(const char* at, const char* begin);
  void respond();
  void respondEcho(Persistence persistence, bool head_only);
  // After a final response: records its latency, then waits for the next request or closes.
  void responded(Persistence persistence);
  // Answers with a canned error and closes: the request cannot be trusted or was refused.
  void fail(int status);
  // Flushes the worker's output buffer to the connection, and closes it if the session is done.
  void finishEvent();

  void beginHead();
  void enterIdle();
  void armDeadline(uint64_t due_ms);
  uint64_t now() const;
  Persistence persistence() const;
  void recordLatency();
  // Byte `k` (1 or 2) before `at`, looking back past `begin` into the previous input.
  char byteBefore(const char* at, const char* begin, size_t k) const;
  bool crlfBefore(const char* at, const char* begin) const {
    return byteBefore(at, begin, 2) == '\r' && byteBefore(at, begin, 1) == '\n';
  }
  // Head size so far, up to `end` in the current input; returns false (after failing with 431)
  // when it is over the limit.
  bool checkHeadBytes(const char* end);
  // Trailer fields are counted against the same limit, not kept; false after failing with 431.
  bool countTrailerBytes(size_t len);

  static int onMessageBegin(llhttp_t* p);
  static int onUrl(llhttp_t* p, const char* at, size_t len);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderFieldComplete(llhttp_t* p);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* p);
  static int onHeadersComplete(llhttp_t* p);
  static int onChunkHeader(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* p);
  static const llhttp_settings_t& settings();

  static void onDeadline(uv_timer_t* t);
  static void onDelayDone(uv_timer_t* t);
  static void onTimerClosed(uv_handle_t* h);

  HttpHandler& handler_;
  net::Connection* conn_;  // null once detached
  llhttp_t parser_;
  uv_timer_t deadline_timer_;
  uv_timer_t delay_timer_;
  int open_handles_ = 0;

  Phase phase_ = Phase::kIdle;
  Event event_ = Event::kNone;

  // The input being parsed: one llhttp_execute() call's range.
  const char* feed_begin_ = nullptr;
  const char* feed_end_ = nullptr;
  uint64_t feed_count_ = 0;  // llhttp_execute() calls so far
  // The last two bytes of earlier input, for CRLF checks that look back across reads.
  char tail_[2] = {0, 0};

  // The request being read. Its buffers keep their capacity from one request to the next, so
  // that a connection's steady state allocates nothing.
  std::string url_;
  std::string headers_;  // "Name: value\r\n" lines
  std::string body_;     // kept for /echo only
  uint64_t head_bytes_ = 0;
  const char* count_from_ = nullptr;  // head bytes before this point are in head_bytes_
  uint64_t trailer_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  uint64_t header_count_ = 0;
  size_t name_at_ = 0;
  size_t value_at_ = 0;
  bool field_open_ = false;
  size_t name_len_ = 0;
  enum class Field { kOther, kHost, kExpect } field_ = Field::kOther;
  // obs-fold detection: which llhttp_execute() call gave the last span of the current value, and
  // whether that span ran to the end of its input.
  uint64_t value_feed_ = 0;
  bool value_at_feed_end_ = false;
  size_t value_spans_ = 0;
  int host_count_ = 0;
  bool expect_continue_ = false;
  bool expect_other_ = false;
  bool keep_alive_ = true;
  uint8_t method_ = 0;
  bool method_known_ = false;
  uint8_t http_minor_ = 1;
  Target target_ = Target::kNotFound;
  const Route* route_ = nullptr;
  DynamicRoutes::Response dynamic_;  // for Target::kDynamic
  uint64_t start_ns_ = 0;

  // Timers. The deadline timer is not re-armed per request: it stays armed for the earliest
  // deadline and re-arms itself when it fires early (as Connection's idle timer does).
  uint64_t head_deadline_ms_ = 0;
  uint64_t idle_since_ms_ = 0;
  uint64_t armed_due_ms_ = 0;
  bool armed_ = false;

  // A delayed response, and the input that arrived behind its request.
  std::string delayed_;
  int delayed_status_ = 0;
  bool delayed_close_ = false;
  std::string pending_;
};

}  // namespace portd::handlers::http
