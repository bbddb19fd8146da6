#include "handlers/http/session.h"

#include <time.h>

#include <algorithm>

#include "core/loop_context.h"
#include "handlers/http/echo_endpoint.h"
#include "handlers/http/http_config.h"
#include "handlers/http/http_handler.h"
#include "handlers/http/routes.h"
#include "net/connection.h"

namespace portd::handlers::http {

namespace {

// uv_hrtime()'s clock (CLOCK_MONOTONIC), read without its wrapper, which costs more than the
// vDSO's read itself: each request reads it twice, at its first byte and at its response.
uint64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

Session::Session(HttpHandler& handler, net::Connection& conn)
    : handler_(handler), conn_(&conn), parser_(handler.config().limits()) {
  uv_loop_t* loop = conn.context().loop();
  // It cannot fail for a valid loop.
  uv_timer_init(loop, &deadline_timer_);
  deadline_timer_.data = this;
  delay_.owner = this;
  open_handles_ = 1;
}

void Session::attach(net::Connection& conn) {
  conn_ = &conn;
  phase_ = Phase::kIdle;
  idle_timeout_ms_ = 0;
  parser_.reset();
}

bool Session::parkable() const {
  return conn_ != nullptr && phase_ == Phase::kIdle && pending_.empty() && !handler_.draining() &&
         !conn_->isClosing();
}

void Session::park() {
  uv_timer_stop(&deadline_timer_);
  armed_ = false;
  idle_timeout_ms_ = 0;
  conn_ = nullptr;
}

void Session::recycle() {
  // Buffers a request left larger than this go back to malloc rather than into the pool: a
  // burst of peers that sent much and left must not stay pinned in pooled sessions.
  constexpr size_t kKeepCapacity = 1024;
  uv_timer_stop(&deadline_timer_);
  armed_ = false;
  handler_.delays().stop(&delay_);
  conn_ = nullptr;
  phase_ = Phase::kClosing;
  idle_timeout_ms_ = 0;
  head_deadline_ms_ = 0;
  body_left_ = 0;
  pending_.clear();
  delayed_.clear();
  delayed_body_ = 0;
  delayed_close_ = false;
  refused_unread_ = false;
  if (pending_.capacity() > kKeepCapacity) {
    std::string().swap(pending_);
  }
  if (delayed_.capacity() > kKeepCapacity) {
    std::string().swap(delayed_);
  }
}

void Session::detach() {
  conn_ = nullptr;
  phase_ = Phase::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline_timer_), &onTimerClosed);
  handler_.delays().stop(&delay_);
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
  if (holdsInput()) {
    // Reading is paused while a response is delayed or the output is full; bytes that were
    // already on their way wait with the rest.
    pending_.append(data);
    return;
  }
  size_t used = serve(data);
  if (holdsInput()) {
    pending_.assign(data.substr(used));
  }
  finishEvent();
}

void Session::onWritable() {
  if (conn_ == nullptr || (phase_ != Phase::kBlocked && phase_ != Phase::kStreaming)) {
    return;
  }
  if (phase_ == Phase::kBlocked) {
    // Between requests again: the keep-alive timeout runs once the kept requests are answered.
    enterIdle();
  }
  const size_t used = serve(pending_);
  if (phase_ == Phase::kClosing) {
    pending_.clear();
  } else {
    // Whatever stopped parsing again (a delay, a full output) keeps the rest; else none is left.
    pending_.erase(0, used);
  }
  finishEvent();
}

bool Session::outputFull() const {
  return conn_ != nullptr && conn_->queuedBytes() + handler_.out().size() > conn_->writeLimit();
}

size_t Session::serve(std::string_view data) {
  size_t used = 0;
  for (;;) {
    if (phase_ == Phase::kStreaming) {
      pumpBody();
    }
    if (phase_ == Phase::kIdle || phase_ == Phase::kHead || phase_ == Phase::kBody) {
      used += parse(data.substr(used));
    }
    if (phase_ != Phase::kBlocked && phase_ != Phase::kStreaming) {
      return used;
    }
    // One write for what filled the output; the kernel may take all of it, and then the body
    // or the requests behind can go on now. If it does not, the connection has stopped reading
    // (its queue is over the limit) and will call onWritable() at half the limit.
    handler_.flush(*conn_);
    if (conn_ == nullptr || conn_->queuedBytes() > conn_->writeLimit()) {
      return used;  // closed by a failed write (detached), or still full
    }
    if (phase_ == Phase::kBlocked) {
      enterIdle();
    }
  }
}

void Session::startBody(uint64_t bytes, Persistence persistence) {
  body_left_ = bytes;
  body_persistence_ = persistence;
  phase_ = Phase::kStreaming;
}

void Session::pumpBody() {
  // What precedes the body (its head, the answers before it) goes first.
  handler_.flush(*conn_);
  const std::string_view filler = echoFiller();
  while (conn_ != nullptr && body_left_ > 0 && conn_->queuedBytes() <= conn_->writeLimit()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(body_left_, filler.size()));
    body_left_ -= n;
    if (!conn_->writeReferenced(filler.substr(0, n))) {
      return;  // closing
    }
  }
  if (conn_ != nullptr && body_left_ == 0) {
    responded(body_persistence_);
  }
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
    if (refused_unread_) {
      conn_->closeLingering();
    } else {
      conn_->close();
    }
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
  size_t used = 0;
  // After the head, the parser must run once more even with no input left: a request without a
  // body completes there.
  bool more = !data.empty();
  while (more && (phase_ == Phase::kIdle || phase_ == Phase::kHead || phase_ == Phase::kBody)) {
    const ParseStep step = parser_.parse(data.substr(used));
    used += step.used;
    more = used < data.size();
    // A step holds at most one request's start, and it ends at that request's head at the
    // latest, so starting the clock and the head deadline here, in the same loop turn, is as
    // good as starting them at the first byte.
    if (step.began) {
      beginHead();
    }
    switch (step.event) {
      case ParseEvent::kNeedMore:
        break;
      case ParseEvent::kHead:
        headersDone();
        more = true;
        break;
      case ParseEvent::kRequest:
        messageDone();
        // Stop taking requests once the output is full, so that one read of pipelined requests
        // is not rendered whole before the write limit is looked at; serve() takes it from
        // here.
        if (phase_ == Phase::kIdle && outputFull()) {
          phase_ = Phase::kBlocked;
        }
        break;
      case ParseEvent::kError:
        // The rest of the input is ignored: the connection closes after the answer, and reads
        // and drops what the peer still sends of this request for a while (closeLingering).
        refused_unread_ = true;
        fail(step.status);
        break;
    }
  }
  return used;
}

void Session::beginHead() {
  phase_ = Phase::kHead;
  route_ = nullptr;
  target_ = Target::kNotFound;
  start_ns_ = monotonicNs();
  const uint64_t timeout = handler_.config().limits().header_timeout_ms;
  // Armed by settle() only if the head is still incomplete when the read has been handled:
  // most heads arrive whole, and a timer started and stopped per request would cost more than
  // reading the head.
  head_deadline_ms_ = timeout > 0 ? now() + timeout : 0;
}

// ---- requests

void Session::headersDone() {
  phase_ = Phase::kBody;
  const ParsedRequest request = parser_.request();
  const HttpConfig& config = handler_.config();
  http::Target target = splitTarget(request.target, request.path_size);
  if (config.dynamic() != nullptr && config.dynamic()->respond(target.path, &dynamic_)) {
    target_ = Target::kDynamic;
  } else if (config.echo().matches(target.path)) {
    target_ = Target::kEcho;
  } else if ((route_ = config.routes().find(target.path)) != nullptr) {
    target_ = Target::kRoute;
  }
  // Only /echo sends the body back; for every other target it is read and dropped.
  parser_.keepBody(target_ == Target::kEcho);
  if (request.expect_continue) {
    handler_.out() += kContinue;
    handler_.mutableStats().countResponse(100);
  }
}

void Session::messageDone() {
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
  const ParsedRequest request = parser_.request();
  if (!request.keep_alive || handler_.draining()) {
    return Persistence::kClose;
  }
  return request.http_minor == 0 ? Persistence::kKeepAlive10 : Persistence::kKeepAlive;
}

void Session::respond() {
  const Persistence p = persistence();
  const bool head_only = parser_.isHeadRequest();
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
  const ParsedRequest parsed = parser_.request();
  std::string_view query = splitTarget(parsed.target, parsed.path_size).query;
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
  request.method = llhttp_method_name(parsed.method);
  request.target = parsed.target;
  request.http_minor = parsed.http_minor;
  request.headers = parsed.headers;
  request.body = parsed.body;
  if (d.delay_ms == 0) {
    const uint64_t owed = appendEchoResponse(handler_.out(), request, knobs, d,
                                             handler_.date().line(now()), p, head_only);
    stats.countResponse(d.status);
    if (owed > 0) {
      startBody(owed, p);
    } else {
      responded(p);
    }
    return;
  }
  // Load generators measure this delay: libuv's millisecond timers would add up to a
  // millisecond to it, so it runs on a timer to the microsecond, from now.
  const uint64_t due_ns = uv_hrtime() + d.delay_ms * 1000000;
  if (!handler_.delays().start(conn_->context().loop(), &delay_, due_ns, &onDelayDone)) {
    fail(503);  // no descriptor for the timer: the worker is out of them
    return;
  }
  // The Date line is the one of the moment the response is made; the delay is at most
  // max_delay, and a Date that old is still within what RFC 9110 6.6.1 asks.
  delayed_.clear();
  delayed_body_ =
      appendEchoResponse(delayed_, request, knobs, d, handler_.date().line(now()), p, head_only);
  delayed_status_ = d.status;
  delayed_close_ = p == Persistence::kClose;
  phase_ = Phase::kDelayed;
  ++stats.delayed_responses;
  conn_->pauseReading();
}

void Session::onDelayDone(core::PreciseTimers::Timer* t) {
  auto* self = static_cast<Session*>(t->owner);
  if (self->conn_ == nullptr || self->phase_ != Phase::kDelayed) {
    return;
  }
  self->handler_.out() += self->delayed_;
  self->handler_.mutableStats().countResponse(self->delayed_status_);
  const Persistence p = self->delayed_close_ ? Persistence::kClose : Persistence::kKeepAlive;
  if (self->delayed_body_ > 0) {
    self->startBody(self->delayed_body_, p);
  } else {
    self->responded(p);
  }
  if (self->phase_ == Phase::kClosing) {
    self->pending_.clear();
    self->finishEvent();
    return;
  }
  // The requests that arrived behind the delayed one are answered now, in order; another delay
  // among them, or a full output, stops this again.
  if (!self->pending_.empty() || self->phase_ == Phase::kStreaming) {
    size_t used = self->serve(self->pending_);
    if (self->phase_ == Phase::kClosing) {
      self->pending_.clear();
    } else {
      self->pending_.erase(0, used);
    }
  }
  self->finishEvent();
  if (self->conn_ != nullptr && self->phase_ != Phase::kDelayed &&
      self->phase_ != Phase::kClosing) {
    if (!self->holdsInput()) {
      self->pending_.clear();
    }
    // A full output keeps reading stopped through the connection's own backpressure, which
    // calls onWritable() when it drains.
    self->conn_->resumeReading();
  }
  self->settle(self->handler_);
}

void Session::fail(int status) {
  HttpStats& stats = handler_.mutableStats();
  if (status == 400) {
    stats.countBadRequest();
  }
  // The method is known once the head is complete; a HEAD request gets no body even now.
  const bool head_only = parser_.isHeadRequest();
  appendCanned(handler_.out(), handler_.config().canned(status), handler_.date().line(now()),
               Persistence::kClose, head_only);
  stats.countResponse(status);
  recordLatency();
  phase_ = Phase::kClosing;
}

void Session::recordLatency() {
  handler_.mutableStats().recordLatency((monotonicNs() - start_ns_) / 1000);
}

// ---- timers

void Session::enterIdle(bool first) {
  phase_ = Phase::kIdle;
  const HttpLimits& limits = handler_.config().limits();
  uint64_t timeout = limits.keepalive_timeout_ms;
  // A connection that never sends a byte must not hold its slot for the whole keep-alive
  // timeout (75 s by default): a hundred silent connections would lock a listener with
  // max_connections = 100. Until the first byte, header_timeout applies, as nginx's
  // client_header_timeout does from accept.
  if (first && limits.header_timeout_ms > 0 &&
      (timeout == 0 || limits.header_timeout_ms < timeout)) {
    timeout = limits.header_timeout_ms;
  }
  if (timeout > 0) {
    idle_since_ms_ = now();
  }
  idle_timeout_ms_ = timeout;
  // Not armed here: at the end of the event the session is usually parked and the handler's
  // IdleList runs the timeout; settle() arms it for a session that stays (a timer started and
  // stopped per request would cost more than the rest of the keep-alive bookkeeping).
}

void Session::settle(HttpHandler& handler) {
  if (parkable()) {
    handler.park(*this);
  } else if (conn_ == nullptr) {
    return;
  } else if (phase_ == Phase::kIdle && idle_timeout_ms_ > 0) {
    armDeadline(idle_since_ms_ + idle_timeout_ms_);
  } else if (phase_ == Phase::kHead && head_deadline_ms_ != 0) {
    armDeadline(head_deadline_ms_);
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
  } else if (self->phase_ == Phase::kIdle && self->idle_timeout_ms_ > 0) {
    const uint64_t due = self->idle_since_ms_ + self->idle_timeout_ms_;
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
