#include "handlers/http/http_handler.h"

#include "handlers/http/session.h"
#include "net/connection.h"

namespace portd::handlers::http {

HttpHandler::HttpHandler(const HttpConfig& config, uint64_t seed, net::RequestStats& shared)
    : config_(config), stats_(shared), rng_(seed) {
  // Room for a typical burst of pipelined responses, so that the first requests do not pay for
  // the buffer's growth.
  out_.reserve(kInitialCapacity);
}

void HttpHandler::onDrain(net::Connection& conn) {
  draining_ = true;
  if (auto* s = static_cast<Session*>(conn.handlerData())) {
    s->drain();
  }
}

void HttpHandler::onOpen(net::Connection& conn) { conn.setHandlerData(new Session(*this, conn)); }

void HttpHandler::onData(net::Connection& conn, std::string_view data) {
  static_cast<Session*>(conn.handlerData())->onData(data);
}

void HttpHandler::onWritable(net::Connection& conn) {
  if (auto* session = static_cast<Session*>(conn.handlerData())) {
    session->onWritable();
  }
}

void HttpHandler::onClose(net::Connection& conn) {
  if (auto* session = static_cast<Session*>(conn.handlerData())) {
    conn.setHandlerData(nullptr);
    session->detach();
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
