#include "net/tcp_listener.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "net/connection.h"

namespace portd::net {

TcpListener::TcpListener(core::LoopContext& ctx, std::shared_ptr<const config::Config> config,
                         const config::ListenerConfig& listener, unsigned workers)
    : ctx_(ctx),
      config_(std::move(config)),
      listener_(listener),
      max_connections_(listener.maxConnectionsPerWorker(workers)),
      handler_(listener.handler_config->createInstance()) {}

TcpListener::~TcpListener() {
  // Connections point at this listener; the worker destroys it only once they are gone.
  abortAll();
}

int TcpListener::listen(int fd, int backlog) {
  PORTD_ASSERT_LOOP_THREAD(ctx_);
  int rc = uv_tcp_init(ctx_.loop(), server_.get());
  if (rc == 0) {
    server_->data = this;
    rc = uv_tcp_open(server_.get(), fd);
  }
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_.get()), backlog, &onConnection);
  }
  if (rc != 0) {
    // uv_tcp_open() only takes ownership of the descriptor when it succeeds.
    uv_os_fd_t owned = -1;
    if (server_->type == UV_UNKNOWN_HANDLE || uv_fileno(server_.handle(), &owned) != 0) {
      ::close(fd);
    }
    server_.reset();
  }
  return rc;
}

void TcpListener::stopAccepting() {
  if (!server_) {
    return;
  }
  server_.reset();
  if (count_ == 0 && on_drained_) {
    on_drained_();
  }
}

void TcpListener::abortAll() {
  while (head_ != nullptr) {
    head_->abort();  // unlinks it
  }
}

void TcpListener::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<TcpListener*>(server->data);
  if (self == nullptr) {
    return;
  }
  if (status < 0) {
    // libuv already answers EMFILE/ENFILE by accepting and dropping the pending connections
    // with its reserve descriptor, so the loop does not spin; here we only count and tell the
    // operator, at most once a second.
    ++self->stats_.accept_errors;
    uint64_t suppressed = 0;
    if (self->accept_error_log_.allow(uv_now(self->ctx_.loop()), &suppressed)) {
      spdlog::error("listener \"{}\": accept failed: {} ({} more since the last report)",
                    self->listener_.name, uv_strerror(status), suppressed);
    }
    return;
  }
  self->accept();
}

void TcpListener::accept() {
  auto* c = new Connection(*this);
  int rc = uv_accept(reinterpret_cast<uv_stream_t*>(server_.get()), c->stream());
  if (rc != 0) {
    ++stats_.accept_errors;
    c->abort();
    return;
  }
  ++stats_.accepted;
  if (count_ >= max_connections_) {
    // Closing at once tells the client "no" instead of leaving it in the backlog until it times
    // out; the kernel keeps spreading new connections over every worker either way.
    ++stats_.rejected;
    uint64_t suppressed = 0;
    if (reject_log_.allow(uv_now(ctx_.loop()), &suppressed)) {
      spdlog::warn("listener \"{}\": worker {} is at max_connections ({}); closing new "
                   "connections ({} more since the last report)",
                   listener_.name, ctx_.workerId(), max_connections_, suppressed);
    }
    c->abort();
    return;
  }
  c->next_ = head_;
  if (head_ != nullptr) {
    head_->prev_ = c;
  }
  head_ = c;
  ++count_;
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("listener \"{}\": worker {} accepted a connection from {}", listener_.name,
                  ctx_.workerId(), c->peerAddress().toString());
  }
  c->start();
}

void TcpListener::unlink(Connection* c) {
  if (c->prev_ != nullptr) {
    c->prev_->next_ = c->next_;
  } else if (head_ == c) {
    head_ = c->next_;
  } else {
    return;  // never linked (rejected or failed accept)
  }
  if (c->next_ != nullptr) {
    c->next_->prev_ = c->prev_;
  }
  c->prev_ = c->next_ = nullptr;
  --count_;
  ++stats_.closed;
  if (count_ == 0 && !server_ && on_drained_) {
    on_drained_();
  }
}

}  // namespace portd::net
