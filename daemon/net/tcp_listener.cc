#include "net/tcp_listener.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>

#include "net/connection.h"

namespace portd::net {

TcpListener::TcpListener(core::LoopContext& ctx, ListenerSettings settings,
                         std::shared_ptr<const HandlerConfig> handler,
                         std::shared_ptr<ListenerStats> stats)
    : ctx_(ctx),
      settings_(std::move(settings)),
      handler_config_(std::move(handler)),
      stats_(stats ? std::move(stats) : std::make_shared<ListenerStats>()),
      handler_(handler_config_->createInstance({ctx, settings_.name, *stats_})),
      idle_timeout_ms_(static_cast<uint64_t>(std::max<int64_t>(settings_.idle_timeout.count(), 0))),
      lingering_ms_(static_cast<uint64_t>(std::clamp<int64_t>(
          settings_.lingering_timeout.count(), 0, static_cast<int64_t>(Connection::kMaxLingerMs)))),
      faults_(settings_.faults),
      faults_on_(faults_.any()) {
  on_io = &onReadable;
  if (idle_timeout_ms_ != 0) {
    uv_timer_init(ctx_.loop(), idle_timer_.get());
    idle_timer_->data = this;
    uv_unref(idle_timer_.handle());
  }
  if (settings_.max_connections_per_ip > 0) {
    peers_ = std::make_unique<PeerCounts>();
  }
}

TcpListener::~TcpListener() {
  // Connections point at this listener; the worker destroys it only once they are gone.
  abortAll();
  if (reserve_fd_ >= 0) {
    ::close(reserve_fd_);
  }
}

void TcpListener::keepReserveDescriptor() {
  reserve_wanted_ = true;
  refillReserve();
}

void TcpListener::refillReserve() {
  if (reserve_wanted_ && reserve_fd_ < 0) {
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
}

// Out of descriptors: the reserve makes room for exactly one connection. It is refilled when a
// connection of this listener closes, which gives the number back.
bool TcpListener::acceptWithReserve() {
  if (reserve_fd_ < 0) {
    return false;
  }
  ::close(reserve_fd_);
  reserve_fd_ = -1;
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    refillReserve();
    return false;
  }
  admit(fd, reinterpret_cast<sockaddr*>(&peer));
  refillReserve();  // usually fails now; a closing connection refills it (Connection::finish)
  return true;
}

void TcpListener::holdHandlerConfig(std::shared_ptr<const HandlerConfig> same) {
  // Only the very object the instance was made from: anything else would serve new
  // connections with settings the instance does not have.
  assert(same.get() == handler_config_.get());
  handler_config_ = std::move(same);
}

int TcpListener::listen(int fd, int backlog) {
  PORTD_ASSERT_LOOP_THREAD(ctx_);
  // Replies are usually small and written once per request: Nagle's algorithm would hold them
  // back waiting for an ACK that the peer delays, adding up to 40 ms per exchange. Set here,
  // on the listening socket, it is inherited by every accepted one (Linux copies it), so no
  // connection pays a setsockopt() for it.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = backlog == kListening || ::listen(fd, backlog) == 0 ? 0 : -errno;
  if (rc == 0) {
    // Read once: a reload that changes it keeps the socket, so this may be stale until the
    // listener is replaced, which costs no more than one read or one wake-up per connection.
    int defer = 0;
    socklen_t len = sizeof defer;
    expects_input_ =
        ::getsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, &len) == 0 && defer > 0;
    fd_ = fd;
    rc = watch() ? 0 : -errno;
  }
  if (rc == 0) {
    rc = uv_timer_init(ctx_.loop(), resume_timer_.get());
    resume_timer_->data = this;
  }
  if (rc != 0) {
    ctx_.poller().remove(io_token_, fd);
    io_token_ = 0;
    resume_timer_.reset();
    ::close(fd);
    fd_ = -1;
    return rc;
  }
  return 0;
}

bool TcpListener::watch() {
  // Level-triggered: one accept per readiness, and a backlog is taken one per loop turn.
  io_token_ = ctx_.poller().add(fd_, EPOLLIN, this);
  return io_token_ != 0;
}

void TcpListener::stopAccepting() {
  if (fd_ < 0) {
    return;
  }
  // Out of the epoll set explicitly: the socket may be shared (a systemd socket, or the
  // server's own, which every worker has a copy of), and close() alone would not remove it.
  ctx_.poller().remove(io_token_, fd_);
  io_token_ = 0;
  resume_timer_.reset();
  ::close(fd_);
  fd_ = -1;
  if (count_ == 0 && on_drained_) {
    on_drained_();
  }
}

void TcpListener::acceptBacklogAndStop() {
  // A bounded number, so that a flood arriving during the drain cannot keep it going.
  for (int i = 0; i < 1024 && fd_ >= 0; ++i) {
    if (!acceptOne()) {
      break;
    }
  }
  stopAccepting();
}

void TcpListener::drainConnections() {
  // The handler may close the connection it is told about, which unlinks only that one.
  for (Connection* c = head_; c != nullptr;) {
    Connection* next = c->next_;
    if (c->lingering_) {
      c->abort();  // its answer has left: nothing for a drain to wait for
    } else if (!c->isClosing()) {
      handler_->onDrain(*c);
    }
    c = next;
  }
}

void TcpListener::abortAll() {
  while (head_ != nullptr) {
    head_->abort();  // unlinks it
  }
}

void TcpListener::onReadable(core::IoWatch* w, uint32_t /*events*/) {
  auto* self = static_cast<TcpListener*>(w);
  // One connection per readiness, as nginx does without multi_accept: accepting until EAGAIN
  // costs a second, empty accept4() per connection whenever they arrive one at a time, which
  // is the common case. epoll is level-triggered, so a backlog is taken one per loop turn, in
  // turn with the connections already open on this loop.
  self->acceptOne();
}

bool TcpListener::acceptOne() {
  for (;;) {
    // The peer's address comes with the accept (no getpeername() later) when it is needed;
    // otherwise it is neither asked for nor read, so it is left uninitialised.
    sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd = ::accept4(fd_, peers_ ? reinterpret_cast<sockaddr*>(&peer) : nullptr,
                       peers_ ? &len : nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      admit(fd, reinterpret_cast<sockaddr*>(&peer));
      return true;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      return false;
    }
    if (err == EINTR || err == ECONNABORTED || err == EPROTO) {
      continue;  // that one connection is gone; the listener is fine
    }
    if ((err == EMFILE || err == ENFILE) && acceptWithReserve()) {
      return true;
    }
    pauseAccepting(-err);
    return false;
  }
}

void TcpListener::pauseAccepting(int error) {
  // EMFILE, ENFILE, ENOBUFS, ENOMEM: retrying at once would fail the same way and spin the
  // loop. Stop watching for a moment; the kernel keeps new connections in the backlog, and
  // connections that close meanwhile free what accept() needs.
  constexpr uint64_t kPauseMs = 100;
  ++stats_->accept_errors;
  uint64_t suppressed = 0;
  if (accept_error_log_.allow(uv_now(ctx_.loop()), &suppressed)) {
    spdlog::error(
        "listener \"{}\": accept failed on worker {}: {}; pausing accepts for {} ms "
        "({} more failures since the last report)",
        settings_.name, ctx_.workerId(), uv_strerror(error), kPauseMs, suppressed);
  }
  ctx_.poller().remove(io_token_, fd_);
  io_token_ = 0;
  uv_timer_start(
      resume_timer_.get(),
      [](uv_timer_t* t) {
        if (auto* self = static_cast<TcpListener*>(t->data);
            self && self->fd_ >= 0 && self->io_token_ == 0 && !self->watch()) {
          self->pauseAccepting(-errno);
        }
      },
      kPauseMs, 0);
}

void TcpListener::admit(int fd, const sockaddr* peer) {
  // accept4() made the socket non-blocking and Linux copied TCP_NODELAY from the listening
  // socket: nothing more to set.
  auto* c = new Connection(*this, fd);
  ++stats_->accepted;
  // Closing at once tells the client "no" instead of leaving it in the backlog until it times
  // out; the kernel keeps spreading new connections over every worker either way.
  const char* limit = nullptr;
  uint64_t value = 0;
  if (count_ >= settings_.max_connections) {
    limit = "max_connections";
    value = settings_.max_connections;
  } else if (ctx_.openConnections() >= ctx_.connectionLimit()) {
    limit = "server.max_connections";
    value = ctx_.connectionLimit();
  } else if (peers_) {
    c->peer_slot_ = peers_->acquire(peer, static_cast<uint32_t>(std::min<uint64_t>(
                                              settings_.max_connections_per_ip, UINT32_MAX - 2)));
    if (c->peer_slot_ == PeerCounts::kRefused) {
      c->peer_slot_ = PeerCounts::kNone;
      limit = "max_connections_per_ip";
      value = settings_.max_connections_per_ip;
    }
  }
  if (limit != nullptr) {
    ++stats_->rejected;
    uint64_t suppressed = 0;
    if (reject_log_.allow(uv_now(ctx_.loop()), &suppressed)) {
      spdlog::warn(
          "listener \"{}\": worker {} is at {} ({}); closing new connections ({} more since "
          "the last report)",
          settings_.name, ctx_.workerId(), limit, value, suppressed);
    }
    c->abort();
    return;
  }
  ctx_.connectionOpened();
  c->next_ = head_;
  if (head_ != nullptr) {
    head_->prev_ = c;
  }
  head_ = c;
  ++count_;
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("listener \"{}\": worker {} accepted a connection from {}", settings_.name,
                  ctx_.workerId(), c->peerAddress().toString());
  }
  c->start();
}

void TcpListener::idleUnlink(Connection* c) {
  if (c->newer_ != nullptr) {
    c->newer_->older_ = c->older_;
  } else if (newest_ == c) {
    newest_ = c->older_;
  } else {
    return;  // not in the list
  }
  if (c->older_ != nullptr) {
    c->older_->newer_ = c->newer_;
  } else {
    oldest_ = c->newer_;
  }
  c->newer_ = c->older_ = nullptr;
}

void TcpListener::idleLinkFront(Connection* c) {
  c->older_ = newest_;
  c->newer_ = nullptr;
  if (newest_ != nullptr) {
    newest_->newer_ = c;
  } else {
    oldest_ = c;
  }
  newest_ = c;
  if (!uv_is_active(idle_timer_.handle())) {
    uv_timer_start(idle_timer_.get(), &onIdleTimer, idle_timeout_ms_, 0);
  }
}

void TcpListener::onIdleTimer(uv_timer_t* t) {
  auto* self = static_cast<TcpListener*>(t->data);
  if (self == nullptr) {
    return;
  }
  const uint64_t now = uv_now(t->loop);
  while (Connection* c = self->oldest_) {
    const uint64_t idle = now - c->last_activity_ms_;
    if (idle < self->idle_timeout_ms_) {
      uv_timer_start(t, &onIdleTimer, self->idle_timeout_ms_ - idle, 0);
      return;
    }
    ++self->stats_->idle_timeouts;
    spdlog::debug("listener \"{}\": closing connection idle for {} ms", self->settings_.name, idle);
    c->abort();  // unlinks it from both lists
  }
}

void TcpListener::unlink(Connection* c) {
  if (c->prev_ != nullptr) {
    c->prev_->next_ = c->next_;
  } else if (head_ == c) {
    head_ = c->next_;
  } else {
    return;  // never linked (rejected or failed accept)
  }
  if (idle_timeout_ms_ != 0) {
    idleUnlink(c);
  }
  if (c->next_ != nullptr) {
    c->next_->prev_ = c->prev_;
  }
  c->prev_ = c->next_ = nullptr;
  --count_;
  ++stats_->closed;
  ctx_.connectionClosed();
  if (peers_) {
    peers_->release(c->peer_slot_);
  }
  if (count_ == 0 && fd_ < 0 && on_drained_) {
    on_drained_();
  }
}

}  // namespace portd::net
