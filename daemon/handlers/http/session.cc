#include "handlers/http/session.h"

#include <spdlog/spdlog.h>

#include "core/loop_context.h"
#include "handlers/http/echo_endpoint.h"
#include "handlers/http/field_syntax.h"
#include "handlers/http/http_config.h"
#include "handlers/http/http_handler.h"
#include "handlers/http/routes.h"
#include "net/connection.h"

namespace portd::handlers::http {

namespace {

Session* sessionOf(llhttp_t* p) { return static_cast<Session*>(p->data); }

// Trailing spaces and tabs are not part of a field value (RFC 9110 5.5); llhttp drops the
// leading ones only.
void trimTrailingWhitespace(std::string& s, size_t from) {
  size_t end = s.size();
  while (end > from && (s[end - 1] == ' ' || s[end - 1] == '\t')) {
    --end;
  }
  s.resize(end);
}

}  // namespace

// Callbacks return HPE_PAUSED at the end of the head and of the message, so that
// llhttp_execute() returns with the exact position (llhttp_get_error_pos()): the head's size is
// then known exactly, the bytes before it can be checked, and a delayed response can stop the
// parsing right after its request. They return -1 to refuse a request, after fail() has answered.
const llhttp_settings_t& Session::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t x;
    llhttp_settings_init(&x);
    x.on_message_begin = &Session::onMessageBegin;
    x.on_url = &Session::onUrl;
    x.on_header_field = &Session::onHeaderField;
    x.on_header_field_complete = &Session::onHeaderFieldComplete;
    x.on_header_value = &Session::onHeaderValue;
    x.on_header_value_complete = &Session::onHeaderValueComplete;
    x.on_headers_complete = &Session::onHeadersComplete;
    x.on_chunk_header = &Session::onChunkHeader;
    x.on_body = &Session::onBody;
    x.on_message_complete = &Session::onMessageComplete;
    return x;
  }();
  return s;
}

Session::Session(HttpHandler& handler, net::Connection& conn) : handler_(handler), conn_(&conn) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings());
  parser_.data = this;
  uv_loop_t* loop = conn.context().loop();
  // Neither init can fail for a valid loop.
  uv_timer_init(loop, &deadline_timer_);
  uv_timer_init(loop, &delay_timer_);
  deadline_timer_.data = this;
  delay_timer_.data = this;
  open_handles_ = 2;
  enterIdle();
}

void Session::detach() {
  conn_ = nullptr;
  phase_ = Phase::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline_timer_), &onTimerClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&delay_timer_), &onTimerClosed);
}

void Session::onTimerClosed(uv_handle_t* h) {
  auto* self = static_cast<Session*>(h->data);
  if (--self->open_handles_ == 0) {
    delete self;
  }
}

uint64_t Session::now() const { return uv_now(deadline_timer_.loop); }

void Session::onData(std::string_view data) {
  if (phase_ == Phase::kClosing) {
    return;
  }
  if (phase_ == Phase::kDelayed) {
    // Reading is paused while a response is delayed; bytes that were already on their way wait
    // with the rest.
    pending_.append(data);
    return;
  }
  size_t used = parse(data);
  if (phase_ == Phase::kDelayed) {
    pending_.assign(data.substr(used));
  }
  finishEvent();
}

void Session::finishEvent() {
  if (conn_ == nullptr) {
    handler_.out().clear();
    return;
  }
  handler_.flush(*conn_);
  // Draining: a connection between requests has nothing left to wait for.
  if (conn_ != nullptr &&
      (phase_ == Phase::kClosing || (phase_ == Phase::kIdle && handler_.draining()))) {
    conn_->close();
  }
}

void Session::drain() {
  // A request the peer already sent (unread in the kernel) is served first, with "close".
  if (conn_ != nullptr && phase_ == Phase::kIdle && conn_->unreadInput() == 0) {
    phase_ = Phase::kClosing;
    conn_->close();
  }
}

size_t Session::parse(std::string_view data) {
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  const char* p = begin;
  // After the head, llhttp must run once more even with no input left: a request without a body
  // completes there.
  bool more = p < end;
  while (more && (phase_ == Phase::kIdle || phase_ == Phase::kHead || phase_ == Phase::kBody)) {
    feed_begin_ = p;
    feed_end_ = end;
    ++feed_count_;
    count_from_ = p;
    event_ = Event::kNone;
    llhttp_errno_t err = llhttp_execute(&parser_, p, static_cast<size_t>(end - p));
    if (phase_ == Phase::kClosing) {
      // A callback refused the request and answered it; the rest of the input is ignored.
      p = end;
      break;
    }
    if (err == HPE_OK) {
      if (phase_ == Phase::kHead) {
        checkHeadBytes(end);
        head_bytes_ += static_cast<uint64_t>(end - count_from_);
      }
      p = end;
      break;
    }
    const char* stop = llhttp_get_error_pos(&parser_);
    if (err == HPE_PAUSED) {
      llhttp_resume(&parser_);
      p = stop;
      more = p < end;
      if (event_ == Event::kHeadersDone) {
        headersDone(stop, begin);
        more = true;
      } else if (event_ == Event::kMessageDone) {
        messageDone(stop, begin);
      }
    } else if (err == HPE_PAUSED_UPGRADE) {
      // Upgrade and CONNECT were answered like any other request (no 101, no tunnel), so the
      // bytes that follow are HTTP again.
      llhttp_resume_after_upgrade(&parser_);
      p = stop;
      more = p < end;
    } else {
      spdlog::debug("http: malformed request: {} ({})", llhttp_errno_name(err),
                    llhttp_get_error_reason(&parser_));
      fail(400);
      p = end;
    }
  }
  // Keep the last two bytes used, for CRLF checks that look back across reads.
  const size_t used = static_cast<size_t>(p - begin);
  if (used >= 2) {
    tail_[0] = p[-2];
    tail_[1] = p[-1];
  } else if (used == 1) {
    tail_[0] = tail_[1];
    tail_[1] = p[-1];
  }
  return used;
}

char Session::byteBefore(const char* at, const char* begin, size_t k) const {
  const size_t here = static_cast<size_t>(at - begin);
  if (here >= k) {
    return at[-static_cast<ptrdiff_t>(k)];
  }
  return tail_[2 - (k - here)];
}

bool Session::countTrailerBytes(size_t len) {
  trailer_bytes_ += len;
  if (trailer_bytes_ > handler_.config().limits().max_header_bytes) {
    fail(431);
    return false;
  }
  return true;
}

bool Session::checkHeadBytes(const char* end) {
  uint64_t total = head_bytes_ + static_cast<uint64_t>(end - count_from_);
  if (total > handler_.config().limits().max_header_bytes) {
    fail(431);
    return false;
  }
  return true;
}

// ---- llhttp callbacks

int Session::onMessageBegin(llhttp_t* p) {
  Session* s = sessionOf(p);
  s->beginHead();
  return 0;
}

void Session::beginHead() {
  phase_ = Phase::kHead;
  url_.clear();
  headers_.clear();
  body_.clear();
  head_bytes_ = 0;
  // Counted from the start of this input, so blank lines before the request line count too.
  count_from_ = feed_begin_;
  method_known_ = false;
  trailer_bytes_ = 0;
  body_bytes_ = 0;
  header_count_ = 0;
  field_open_ = false;
  name_len_ = 0;
  value_spans_ = 0;
  host_count_ = 0;
  expect_continue_ = false;
  expect_other_ = false;
  route_ = nullptr;
  target_ = Target::kNotFound;
  start_ns_ = uv_hrtime();
  const uint64_t timeout = handler_.config().limits().header_timeout_ms;
  if (timeout > 0) {
    head_deadline_ms_ = now() + timeout;
    armDeadline(head_deadline_ms_);
  }
}

int Session::onUrl(llhttp_t* p, const char* at, size_t len) {
  Session* s = sessionOf(p);
  if (!s->checkHeadBytes(at + len)) {
    return -1;
  }
  s->url_.append(at, len);
  return 0;
}

int Session::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  Session* s = sessionOf(p);
  s->name_len_ += len;
  if (s->phase_ == Phase::kHead) {
    if (!s->checkHeadBytes(at + len)) {
      return -1;
    }
    if (!s->field_open_) {
      s->name_at_ = s->headers_.size();
      s->field_open_ = true;
    }
    s->headers_.append(at, len);
  } else {
    // A trailer field: counted and limited, not kept.
    if (!s->countTrailerBytes(len)) {
      return -1;
    }
  }
  return 0;
}

int Session::onHeaderFieldComplete(llhttp_t* p) {
  Session* s = sessionOf(p);
  // llhttp accepts a line that starts with its colon (": value"), as a field with an empty
  // name; a field name is a token of at least one character.
  const bool named = s->name_len_ > 0;
  s->name_len_ = 0;
  s->field_open_ = false;
  s->value_spans_ = 0;
  if (!named) {
    spdlog::debug("http: header field with an empty name");
    s->fail(400);
    return -1;
  }
  if (++s->header_count_ > s->handler_.config().limits().max_headers) {
    s->fail(431);
    return -1;
  }
  if (s->phase_ != Phase::kHead) {
    s->field_ = Field::kOther;
    return 0;
  }
  std::string_view name = std::string_view(s->headers_).substr(s->name_at_);
  s->field_ = equalsIgnoreCase(name, "host")     ? Field::kHost
              : equalsIgnoreCase(name, "expect") ? Field::kExpect
                                                 : Field::kOther;
  s->headers_ += ": ";
  s->value_at_ = s->headers_.size();
  return 0;
}

int Session::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  Session* s = sessionOf(p);
  // llhttp hands an obsolete line folding ("X: a\r\n b") to us as a second span of the same
  // value, after the CRLF. Within one llhttp_execute() call a value comes as one span, so a
  // value split only by the end of the input continues in the next call, exactly at its start,
  // after a span that ended exactly at the end of the previous one. Any other second span is a
  // fold, which RFC 9112 5.2 lets a server refuse with 400 (and which proxies may read
  // differently).
  if (s->value_spans_ > 0) {
    bool contiguous =
        s->value_feed_ != s->feed_count_ && s->value_at_feed_end_ && at == s->feed_begin_;
    if (!contiguous) {
      spdlog::debug("http: obsolete line folding in a header value");
      s->fail(400);
      return -1;
    }
  }
  ++s->value_spans_;
  s->value_feed_ = s->feed_count_;
  s->value_at_feed_end_ = at + len == s->feed_end_;
  if (s->phase_ == Phase::kHead) {
    if (!s->checkHeadBytes(at + len)) {
      return -1;
    }
    s->headers_.append(at, len);
  } else {
    if (!s->countTrailerBytes(len)) {
      return -1;
    }
  }
  return 0;
}

int Session::onHeaderValueComplete(llhttp_t* p) {
  Session* s = sessionOf(p);
  if (s->phase_ != Phase::kHead) {
    return 0;
  }
  trimTrailingWhitespace(s->headers_, s->value_at_);
  if (s->field_ == Field::kHost) {
    ++s->host_count_;
  } else if (s->field_ == Field::kExpect) {
    if (equalsIgnoreCase(std::string_view(s->headers_).substr(s->value_at_), "100-continue")) {
      s->expect_continue_ = true;
    } else {
      s->expect_other_ = true;
    }
  }
  s->headers_ += "\r\n";
  return 0;
}

int Session::onHeadersComplete(llhttp_t* p) {
  sessionOf(p)->event_ = Event::kHeadersDone;
  return HPE_PAUSED;
}

int Session::onChunkHeader(llhttp_t* p) {
  Session* s = sessionOf(p);
  // The chunk's size is known before its data arrives: refuse a body that will be too large now.
  if (s->body_bytes_ + p->content_length > s->handler_.config().limits().max_body_bytes) {
    s->fail(413);
    return -1;
  }
  return 0;
}

int Session::onBody(llhttp_t* p, const char* at, size_t len) {
  Session* s = sessionOf(p);
  s->body_bytes_ += len;
  if (s->body_bytes_ > s->handler_.config().limits().max_body_bytes) {
    s->fail(413);
    return -1;
  }
  if (s->target_ == Target::kEcho) {
    s->body_.append(at, len);
  }
  return 0;
}

int Session::onMessageComplete(llhttp_t* p) {
  sessionOf(p)->event_ = Event::kMessageDone;
  return HPE_PAUSED;
}

// ---- requests

void Session::headersDone(const char* at, const char* begin) {
  head_bytes_ += static_cast<uint64_t>(at - count_from_);
  if (head_bytes_ > handler_.config().limits().max_header_bytes) {
    fail(431);
    return;
  }
  phase_ = Phase::kBody;
  // llhttp (even strict) takes a bare LF as the blank line that ends the head; RFC 9112 2.2
  // lets a server refuse bare LFs, and a proxy that reads them differently would see another
  // request.
  if (!crlfBefore(at, begin)) {
    spdlog::debug("http: head ends with a bare LF");
    fail(400);
    return;
  }
  method_ = llhttp_get_method(&parser_);
  method_known_ = true;
  http_minor_ = llhttp_get_http_minor(&parser_);
  const uint8_t major = llhttp_get_http_major(&parser_);
  if (major >= 2) {
    fail(505);
    return;
  }
  // llhttp reads a request line without a version as HTTP/0.9, which is not served.
  if (major != 1 || http_minor_ > 1) {
    fail(400);
    return;
  }
  // RFC 9112 3.2: exactly one Host in HTTP/1.1; never more than one.
  if (host_count_ > 1 || (http_minor_ == 1 && host_count_ == 0)) {
    spdlog::debug("http: {} Host header fields", host_count_);
    fail(400);
    return;
  }
  // RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request means faulty framing.
  if (http_minor_ == 0 && (parser_.flags & F_TRANSFER_ENCODING) != 0) {
    fail(400);
    return;
  }
  keep_alive_ = llhttp_should_keep_alive(&parser_) != 0;

  const HttpConfig& config = handler_.config();
  http::Target target = splitTarget(url_);
  if (config.dynamic() != nullptr && config.dynamic()->respond(target.path, &dynamic_)) {
    target_ = Target::kDynamic;
  } else if (config.echo().matches(target.path)) {
    target_ = Target::kEcho;
  } else if ((route_ = config.routes().find(target.path)) != nullptr) {
    target_ = Target::kRoute;
  }

  const bool has_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
  const bool chunked = (parser_.flags & F_CHUNKED) != 0;
  if (has_length && parser_.content_length > config.limits().max_body_bytes) {
    fail(413);
    return;
  }
  if (expect_other_) {
    fail(417);
    return;
  }
  // RFC 9110 10.1.1: only an HTTP/1.1 client waits for 100 Continue, and only when a body is to
  // follow.
  if (expect_continue_ && http_minor_ == 1 &&
      (chunked || (has_length && parser_.content_length > 0))) {
    handler_.out() += kContinue;
    handler_.mutableStats().countResponse(100);
  }
}

void Session::messageDone(const char* at, const char* begin) {
  // The same bare-LF check for the blank line that ends a chunked body's trailers.
  if ((parser_.flags & F_CHUNKED) != 0 && !crlfBefore(at, begin)) {
    spdlog::debug("http: chunked body ends with a bare LF");
    fail(400);
    return;
  }
  handler_.mutableStats().countRequest();
  respond();
}

void Session::responded(Persistence persistence) {
  recordLatency();
  if (persistence == Persistence::kClose) {
    phase_ = Phase::kClosing;
  } else {
    enterIdle();
  }
}

Persistence Session::persistence() const {
  if (!keep_alive_ || handler_.draining()) {
    return Persistence::kClose;
  }
  return http_minor_ == 0 ? Persistence::kKeepAlive10 : Persistence::kKeepAlive;
}

void Session::respond() {
  const Persistence p = persistence();
  const bool head_only = method_ == HTTP_HEAD;
  if (target_ == Target::kEcho) {
    respondEcho(p, head_only);
    return;
  }
  if (target_ == Target::kDynamic) {
    // Rendered when the request's head was complete; not a hot path (admin requests).
    CannedResponse r = makeCannedResponse(dynamic_.status, dynamic_.content_type,
                                          std::move(dynamic_.body), {"Cache-Control: no-store"});
    appendCanned(handler_.out(), r, handler_.date().line(now()), p, head_only);
    handler_.mutableStats().countResponse(r.status);
    responded(p);
    return;
  }
  const CannedResponse& response =
      target_ == Target::kRoute ? route_->response : handler_.config().canned(404);
  appendCanned(handler_.out(), response, handler_.date().line(now()), p, head_only);
  handler_.mutableStats().countResponse(response.status);
  responded(p);
}

void Session::respondEcho(Persistence p, bool head_only) {
  HttpStats& stats = handler_.mutableStats();
  std::string_view query = splitTarget(url_).query;
  EchoKnobs& knobs = handler_.knobs();
  std::string& error = handler_.errorScratch();
  if (!parseEchoKnobs(query, handler_.config().echo().limits, &knobs, &handler_.knobScratch(),
                      &error)) {
    // A refused knob is the client's mistake, not a broken stream: the connection stays.
    appendKnobError(handler_.out(), error, handler_.date().line(now()), p, head_only);
    stats.countResponse(400);
    responded(p);
    return;
  }
  Xorshift64& rng = handler_.rng();
  EchoDecision d = decideEcho(knobs, [&rng] { return rng.below(kPpm); });
  if (d.close) {
    p = Persistence::kClose;
  }
  EchoRequest request;
  request.method = llhttp_method_name(static_cast<llhttp_method_t>(method_));
  request.target = url_;
  request.http_minor = http_minor_;
  request.headers = headers_;
  request.body = body_;
  if (d.delay_ms == 0) {
    appendEchoResponse(handler_.out(), request, knobs, d, handler_.date().line(now()), p,
                       head_only);
    stats.countResponse(d.status);
    responded(p);
    return;
  }
  // The Date line is the one of the moment the response is made; the delay is at most
  // max_delay, and a Date that old is still within what RFC 9110 6.6.1 asks.
  delayed_.clear();
  appendEchoResponse(delayed_, request, knobs, d, handler_.date().line(now()), p, head_only);
  delayed_status_ = d.status;
  delayed_close_ = p == Persistence::kClose;
  phase_ = Phase::kDelayed;
  ++stats.delayed_responses;
  // libuv keeps time in whole milliseconds, cached when the loop turned: a timer of N ms may
  // fire up to 1 ms short of N in real time. A delay is a promise of at least N, so refresh the
  // clock and round up by one.
  uv_update_time(delay_timer_.loop);
  uv_timer_start(&delay_timer_, &onDelayDone, d.delay_ms + 1, 0);
  conn_->pauseReading();
}

void Session::onDelayDone(uv_timer_t* t) {
  auto* self = static_cast<Session*>(t->data);
  if (self->conn_ == nullptr || self->phase_ != Phase::kDelayed) {
    return;
  }
  self->handler_.out() += self->delayed_;
  self->handler_.mutableStats().countResponse(self->delayed_status_);
  self->responded(self->delayed_close_ ? Persistence::kClose : Persistence::kKeepAlive);
  if (self->phase_ == Phase::kClosing) {
    self->pending_.clear();
    self->finishEvent();
    return;
  }
  // The requests that arrived behind the delayed one are answered now, in order; another delay
  // among them stops this again.
  if (!self->pending_.empty()) {
    size_t used = self->parse(self->pending_);
    self->pending_.erase(0, used);
  }
  self->finishEvent();
  if (self->conn_ != nullptr && self->phase_ != Phase::kDelayed &&
      self->phase_ != Phase::kClosing) {
    self->pending_.clear();
    self->conn_->resumeReading();
  }
}

void Session::fail(int status) {
  HttpStats& stats = handler_.mutableStats();
  if (status == 400) {
    stats.countBadRequest();
  }
  // The method is known once the head is complete; a HEAD request gets no body even now.
  const bool head_only = method_known_ && method_ == HTTP_HEAD;
  appendCanned(handler_.out(), handler_.config().canned(status), handler_.date().line(now()),
               Persistence::kClose, head_only);
  stats.countResponse(status);
  recordLatency();
  phase_ = Phase::kClosing;
}

void Session::recordLatency() {
  handler_.mutableStats().recordLatency((uv_hrtime() - start_ns_) / 1000);
}

// ---- timers

void Session::enterIdle() {
  phase_ = Phase::kIdle;
  const uint64_t timeout = handler_.config().limits().keepalive_timeout_ms;
  if (timeout > 0) {
    idle_since_ms_ = now();
    armDeadline(idle_since_ms_ + timeout);
  }
}

void Session::armDeadline(uint64_t due_ms) {
  if (armed_ && armed_due_ms_ <= due_ms) {
    return;  // it fires earlier and will re-arm for this deadline then
  }
  const uint64_t t = now();
  uv_timer_start(&deadline_timer_, &onDeadline, due_ms > t ? due_ms - t : 0, 0);
  armed_ = true;
  armed_due_ms_ = due_ms;
}

void Session::onDeadline(uv_timer_t* t) {
  auto* self = static_cast<Session*>(t->data);
  self->armed_ = false;
  if (self->conn_ == nullptr) {
    return;
  }
  const HttpLimits& limits = self->handler_.config().limits();
  const uint64_t now = self->now();
  if (self->phase_ == Phase::kHead && limits.header_timeout_ms > 0) {
    if (now >= self->head_deadline_ms_) {
      self->handler_.mutableStats().countHeaderTimeout();
      self->fail(408);
      self->finishEvent();
    } else {
      self->armDeadline(self->head_deadline_ms_);
    }
  } else if (self->phase_ == Phase::kIdle && limits.keepalive_timeout_ms > 0) {
    const uint64_t due = self->idle_since_ms_ + limits.keepalive_timeout_ms;
    if (now >= due) {
      // An idle keep-alive connection ends without a response: nothing was asked.
      ++self->handler_.mutableStats().keepalive_timeouts;
      self->phase_ = Phase::kClosing;
      self->conn_->close();
    } else {
      self->armDeadline(due);
    }
  }
  // Reading a body or waiting for a delayed response: no deadline of ours applies (the
  // listener's idle_timeout still does); the next phase change arms the timer again.
}

}  // namespace portd::handlers::http
