#include "handlers/http/http_handler.h"

#include "handlers/http/session.h"
#include "net/connection.h"

namespace portd::handlers::http {

namespace {

// The handler data of a connection between requests: an IdleList node, tagged in its low bit
// (nodes and sessions are 8-byte aligned) to tell it from a Session.
constexpr uintptr_t kIdleTag = 1;

bool isIdle(void* data) { return (reinterpret_cast<uintptr_t>(data) & kIdleTag) != 0; }
IdleList::Node* idleNode(void* data) {
  return reinterpret_cast<IdleList::Node*>(reinterpret_cast<uintptr_t>(data) & ~kIdleTag);
}
void* tagged(IdleList::Node* n) {
  return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(n) | kIdleTag);
}

// Until its first byte a connection gets the shorter of header_timeout and keepalive_timeout:
// one that never sends must not hold its slot for the whole keep-alive timeout (75 s by
// default), as nginx's client_header_timeout runs from accept.
uint64_t freshTimeout(const HttpLimits& limits) {
  uint64_t timeout = limits.keepalive_timeout_ms;
  if (limits.header_timeout_ms > 0 && (timeout == 0 || limits.header_timeout_ms < timeout)) {
    timeout = limits.header_timeout_ms;
  }
  return timeout;
}

// Enough for the sessions of a burst of requests on this worker; beyond it they are freed.
constexpr size_t kPoolSize = 256;
// Sessions of closed connections are pooled only up to this many: a connection per request
// takes one and gives it back within the same read, so a few are enough, while after a burst
// of peers that left, each pooled session would pin a page of the burst's memory.
constexpr size_t kClosedPoolSize = 16;

}  // namespace

HttpHandler::HttpHandler(const HttpConfig& config, uint64_t seed, net::RequestStats& shared)
    : config_(config),
      stats_(shared),
      rng_(seed),
      fresh_(freshTimeout(config.limits()), &onIdleTimeout, this),
      keepalive_(config.limits().keepalive_timeout_ms, &onIdleTimeout, this) {
  // Room for a typical burst of pipelined responses, so that the first requests do not pay for
  // the buffer's growth.
  out_.reserve(kInitialCapacity);
}

HttpHandler::~HttpHandler() {
  for (Session* s : pool_) {
    s->detach();  // frees itself in its timer's close callback
  }
}

void HttpHandler::onIdleTimeout(void* self, net::Connection& conn) {
  // An idle connection ends without a response: nothing was asked.
  ++static_cast<HttpHandler*>(self)->stats_.keepalive_timeouts;
  conn.setHandlerData(nullptr);
  conn.close();
}

void HttpHandler::onDrain(net::Connection& conn) {
  draining_ = true;
  void* data = conn.handlerData();
  if (isIdle(data)) {
    // A request the peer already sent (unread in the kernel) is served first, with "close".
    if (conn.unreadInput() == 0) {
      conn.close();
    }
  } else if (auto* s = static_cast<Session*>(data)) {
    s->drain();
  }
}

void HttpHandler::onOpen(net::Connection& conn) { conn.setHandlerData(tagged(fresh_.add(conn))); }

Session* HttpHandler::takeSession(net::Connection& conn) {
  if (pool_.empty()) {
    return new Session(*this, conn);
  }
  Session* s = pool_.back();
  pool_.pop_back();
  s->attach(conn);
  return s;
}

void HttpHandler::park(Session& s) {
  net::Connection* conn = s.connection();
  s.park();
  if (pool_.size() < kPoolSize) {
    pool_.push_back(&s);
  } else {
    s.detach();
  }
  conn->setHandlerData(tagged(keepalive_.add(*conn)));
}

void HttpHandler::onData(net::Connection& conn, std::string_view data) {
  void* d = conn.handlerData();
  Session* s;
  if (isIdle(d)) {
    IdleList::Node* n = idleNode(d);
    n->list->remove(n);
    s = takeSession(conn);
    conn.setHandlerData(s);
  } else if ((s = static_cast<Session*>(d)) == nullptr) {
    return;  // closed by an idle timeout; the bytes were on their way
  }
  s->onData(data);
  s->settle(*this);
}

void HttpHandler::onWritable(net::Connection& conn) {
  void* d = conn.handlerData();
  if (d == nullptr || isIdle(d)) {
    return;
  }
  auto* s = static_cast<Session*>(d);
  s->onWritable();
  s->settle(*this);
}

void HttpHandler::onClose(net::Connection& conn) {
  void* d = conn.handlerData();
  conn.setHandlerData(nullptr);
  if (isIdle(d)) {
    IdleList::Node* n = idleNode(d);
    n->list->remove(n);
  } else if (auto* session = static_cast<Session*>(d)) {
    // Safe while the session's own callback is on the stack: it sees conn_ gone and phase
    // kClosing, as after detach(), and the pool hands it out only from a later onData().
    session->recycle();
    if (pool_.size() < kClosedPoolSize) {
      pool_.push_back(session);
    } else {
      session->detach();
    }
  }
}

void HttpHandler::flush(net::Connection& conn) {
  if (out_.empty()) {
    return;
  }
  ++stats_.writes;
  // write() copies what the kernel does not take at once, so the buffer can be reused at once.
  conn.write(out_);
  out_.clear();
  // A large size= response leaves a large buffer behind; give it back rather than keep it for
  // the life of the worker.
  if (out_.capacity() > kKeepCapacity) {
    std::string().swap(out_);
    out_.reserve(kInitialCapacity);
  }
}

}  // namespace portd::handlers::http
