#include "net/connection.h"

#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>

#include "core/loop_context.h"
#include "core/sanitizer.h"
#include "net/tcp_listener.h"

namespace portd::net {

void Handler::onPeerClosed(Connection& conn) { conn.close(); }

namespace {
// Kept input larger than this is given back to the allocator once it has been consumed, so
// that one large partial message does not pin memory for the life of the connection.
constexpr size_t kKeepCapacity = 64 * 1024;
}  // namespace
Connection::Connection(TcpListener& owner)
    : owner_(owner), ctx_(owner.context()), out_(owner.context().writePool()) {
  uv_loop_t* loop = owner.context().loop();
  // Neither init can fail for a valid loop: they only fill in the structures.
  uv_tcp_init(loop, &tcp_);
  open_handles_ = 1;
  tcp_.data = this;
  id_ = owner.context().connections().add(this);
}

core::LoopContext& Connection::context() const { return owner_.context(); }
Handler& Connection::handler() const { return owner_.handler(); }
size_t Connection::writeLimit() const { return owner_.settings().write_buffer_limit; }

Address Connection::peerAddress() const {
  sockaddr_storage ss{};
  return peerName(&ss) > 0 ? Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss)) : Address{};
}

size_t Connection::unreadInput() const {
  uv_os_fd_t fd = -1;
  int n = 0;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd) != 0 ||
      ::ioctl(fd, FIONREAD, &n) != 0 || n < 0) {
    return 0;
  }
  return static_cast<size_t>(n);
}

int Connection::peerName(sockaddr_storage* out) const {
  int len = sizeof *out;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(out), &len) != 0) {
    return 0;
  }
  return len;
}

void Connection::start() {
  // TCP_NODELAY came with the socket: Linux copies it from the listening socket
  // (TcpListener::listen), which saves a setsockopt() per connection.
  touch();
  if (ConnectionFaults* f = faultState(); f != nullptr && owner_.faults().accept_delay_ms > 0) {
    // The kernel completed the handshake; the first read waits.
    countFault(FaultKind::kAcceptDelay);
    pauseForFault(owner_.faults().accept_delay_ms);
  }
  opened_ = true;
  owner_.handler().onOpen(*this);
  updateReading();
}

void Connection::touch() {
  last_activity_ms_ = uv_now(tcp_.loop);
  owner_.touched(this);
}

bool Connection::write(std::string_view data) { return writeImpl(data, false); }

bool Connection::writeReferenced(std::string_view data) { return writeImpl(data, true); }

bool Connection::writeImpl(std::string_view data, bool referenced) {
  PORTD_ASSERT_LOOP_THREAD(context());
  if (closing_ || close_after_flush_) {
    return false;
  }
  if (data.empty()) {
    return true;
  }
  ConnectionFaults* f = faultState();
  bool paced = false;
  if (f != nullptr) {
    const uint64_t limit = owner_.faults().reset_after_bytes;
    if (limit != 0) {
      if (f->reset_on_flush) {
        return false;  // the reset is on its way: nothing more leaves
      }
      const uint64_t left = limit - std::min(limit, f->bytes_out);
      if (data.size() >= left) {
        data = data.substr(0, left);
        f->reset_on_flush = true;
      }
      f->bytes_out += data.size();
    }
    paced = f->write.enabled();
  }
  if (out_.empty() && !paced) {
    uv_buf_t buf = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
    int n = uv_try_write(stream(), &buf, 1);
    if (n == static_cast<int>(data.size())) {
      owner_.stats().bytes_out += data.size();
      touch();
      if (f != nullptr && f->reset_on_flush) {
        resetNow();
        return false;
      }
      return true;
    }
    if (n < 0 && n != UV_EAGAIN) {
      spdlog::debug("listener \"{}\": write failed: {}", owner_.settings().name, uv_strerror(n));
      abort();
      return false;
    }
    if (n > 0) {
      owner_.stats().bytes_out += static_cast<size_t>(n);
      touch();
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  if (referenced) {
    out_.appendReferenced(data);
  } else {
    out_.append(data);
  }
  if (in_flight_ == 0) {
    if (paced) {
      if (!f->pacing) {
        pump();
      }
    } else {
      startWrite();
    }
  }
  if (!paused_by_backpressure_ && out_.size() > owner_.settings().write_buffer_limit) {
    paused_by_backpressure_ = true;
    updateReading();
  }
  return !closing_;
}

void Connection::startWrite(size_t limit) {
  uv_buf_t bufs[4];
  unsigned n = out_.peek(bufs, 4);
  size_t total = 0;
  for (unsigned i = 0; i < n; ++i) {
    if (total + bufs[i].len >= limit) {
      bufs[i].len = limit - total;
      n = i + 1;
    }
    total += bufs[i].len;
  }
  if (write_req_ == nullptr) {
    write_req_ = ctx_.acquireWriteRequest();
    write_req_->data = this;
  }
  int rc = uv_write(write_req_, stream(), bufs, n, &onWrite);
  if (rc != 0) {
    spdlog::debug("listener \"{}\": write failed: {}", owner_.settings().name, uv_strerror(rc));
    abort();
    return;
  }
  in_flight_ = total;
}

void Connection::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  // The request goes back to the pool whatever happened: a connection being closed gets this
  // callback (UV_ECANCELED) before its handle's close callback frees it.
  // By the loop's context, not the listener's: a closing connection may have outlived it.
  self->ctx_.releaseWriteRequest(req);
  self->write_req_ = nullptr;
  if (self->closing_) {
    return;  // cancelled by abort(); the listener may already be gone
  }
  size_t written = self->in_flight_;
  self->in_flight_ = 0;
  if (status != 0) {
    if (status != UV_ECANCELED) {
      spdlog::debug("listener \"{}\": write failed: {}", self->owner_.settings().name,
                    uv_strerror(status));
    }
    self->abort();
    return;
  }
  self->out_.consume(written);
  self->owner_.stats().bytes_out += written;
  self->touch();
  ConnectionFaults* f = self->faultState();
  if (!self->out_.empty()) {
    if (f != nullptr && f->write.enabled()) {
      self->pump();
    } else {
      self->startWrite();
    }
  } else if (f != nullptr && f->reset_on_flush) {
    self->resetNow();
    return;
  } else if (self->close_after_flush_) {
    self->abort();
    return;
  }
  if ((self->paused_by_backpressure_ || self->wants_writable_) &&
      self->out_.size() <= self->owner_.settings().write_buffer_limit / 2) {
    self->paused_by_backpressure_ = false;
    self->wants_writable_ = false;
    self->owner_.handler().onWritable(*self);
    if (self->closing_) {
      return;
    }
    self->updateReading();
    // Requests already read and kept would otherwise wait for bytes the peer may never send.
    self->redeliverKept();
  }
}

void Connection::wantWritable() {
  wants_writable_ = true;
  paused_by_backpressure_ = true;
  updateReading();
}

bool Connection::keepInput(size_t n) {
  if (!in_on_data_ || n > current_len_ || n > owner_.settings().write_buffer_limit) {
    return false;
  }
  keep_ = n;
  return true;
}

void Connection::deliver(std::string_view data) {
  keep_ = 0;
  current_len_ = data.size();
  in_on_data_ = true;
  owner_.handler().onData(*this, data);
  in_on_data_ = false;
  if (closing_) {
    return;
  }
  // `data` may point into input_ itself; keep its tail either way.
  if (keep_ == 0) {
    input_.clear();
  } else if (!input_.empty() && data.data() == input_.data()) {
    input_.erase(0, input_.size() - keep_);
  } else {
    input_.assign(data.substr(data.size() - keep_));
  }
  if (input_.empty() && input_.capacity() > kKeepCapacity) {
    std::string().swap(input_);
  }
}

void Connection::redeliverKept() {
  if (!input_.empty() && reading_ && !closing_) {
    deliver(input_);
  }
}

void Connection::onRedeliver(void* id) {
  core::LoopContext* ctx = core::LoopContext::current();
  if (Connection* self = ctx ? ctx->connections().get(reinterpret_cast<uint64_t>(id)) : nullptr) {
    self->redeliverKept();
  }
}

void Connection::updateReading() {
  bool want = !closing_ && !close_after_flush_ && !peer_closed_ && !paused_by_handler_ &&
              !paused_by_backpressure_ && !paused_by_fault_;
  if (want == reading_) {
    return;
  }
  if (want) {
    int rc = uv_read_start(stream(), &onAlloc, &onRead);
    if (rc != 0) {
      spdlog::debug("listener \"{}\": read start failed: {}", owner_.settings().name,
                    uv_strerror(rc));
      abort();
      return;
    }
  } else {
    uv_read_stop(stream());
  }
  reading_ = want;
}

void Connection::pauseReading() {
  paused_by_handler_ = true;
  updateReading();
}

void Connection::resumeReading() {
  bool was_paused = paused_by_handler_;
  paused_by_handler_ = false;
  updateReading();
  if (was_paused && !input_.empty() && reading_) {
    // Not now: resumeReading() is usually called from inside a handler's callback, which must
    // not be re-entered. A zero-delay pool timer names the connection by id, so a connection
    // that closes meanwhile is simply not found.
    context().timers().start(0, &onRedeliver, reinterpret_cast<void*>(id_), nullptr);
  }
}

void Connection::onAlloc(uv_handle_t* h, size_t /*suggested*/, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(h->data);
  core::BufferPool& pool = self->context().readPool();
  size_t size = pool.blockSize();
  // read_rate: no read larger than a burst, so that the rate holds over short spans too.
  if (self->faults_ && self->faults_->read.enabled()) {
    size = std::min<size_t>(size, self->faults_->read.burst());
  }
  *buf = uv_buf_init(pool.acquire(), static_cast<unsigned>(size));
}

void Connection::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(s->data);
  if (nread > 0) {
    self->owner_.stats().bytes_in += static_cast<uint64_t>(nread);
    self->owner_.context().noteIo();
    self->touch();
    std::string_view data(buf->base, static_cast<size_t>(nread));
    if ((self->faults_ || self->owner_.faultsOn()) && !self->applyReadFaults(data)) {
      // Held back for a delay (kept with the input), or the connection was reset.
    } else if (self->input_.empty()) {
      self->deliver(data);
    } else {
      // What the handler kept last time comes first: one contiguous message to parse.
      self->input_.append(data);
      self->deliver(self->input_);
    }
    if (self->faults_ && self->faults_->reset_due && !self->closing_) {
      self->resetNow();
    }
  } else if (nread == UV_EOF) {
    self->peer_closed_ = true;
    self->updateReading();
    self->owner_.handler().onPeerClosed(*self);
  } else if (nread < 0) {
    spdlog::debug("listener \"{}\": read failed: {}", self->owner_.settings().name,
                  uv_strerror(static_cast<int>(nread)));
    self->abort();
  }
  // The buffer goes straight back to the pool: handlers copy what they keep, so the next read
  // (on any connection of this worker) reuses the same block.
  if (buf->base != nullptr) {
    self->context().readPool().release(buf->base);
  }
}

void Connection::close() {
  if (closing_ || close_after_flush_) {
    return;
  }
  if (out_.empty()) {
    abort();
    return;
  }
  close_after_flush_ = true;
  updateReading();
}

void Connection::abort() {
  if (closing_) {
    return;
  }
  closing_ = true;
  reading_ = false;
  finish();
}

void Connection::finish() {
  if (opened_) {
    owner_.handler().onClose(*this);
  }
  // The id goes stale now: a handler that kept it gets PORTD_ECLOSED, never a freed object.
  context().connections().remove(id_);
  // Queued blocks go back to the pool now; a pending uv_write() is cancelled by uv_close() and
  // its callback only sees closing_.
  out_.clear();
  in_flight_ = 0;
  // From here on the listener may be on its way out (it was the last connection of a draining
  // listener): it is freed from a posted task, never inside unlink(), but nothing below relies
  // on more than that one call.
  TcpListener* reserve = owner_.reserve_wanted_ ? &owner_ : nullptr;
  owner_.unlink(this);
  uv_os_fd_t fd = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd);
  core::noteClosedByLibuv(fd);  // before: another thread may get the number right after
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &onHandleClosed);  // closes fd now
  if (reserve != nullptr) {
    // The number this connection gave back is the first chance to refill the reserve.
    reserve->refillReserve();
  }
}

// ---- [listener.faults]

ConnectionFaults* Connection::faultState() {
  if (!owner_.faultsOn()) {
    // Off, or turned off by a reload: a timer still pending finds no state and just resumes.
    faults_.reset();
    return nullptr;
  }
  if (!faults_ || faults_->generation != owner_.faultsGeneration()) {
    const FaultSettings& s = owner_.faults();
    auto f = std::make_unique<ConnectionFaults>();
    if (faults_) {
      *f = *faults_;  // counts, timers and pending resets carry over a change of settings
    } else {
      const uint64_t seed = s.seed != 0 ? s.seed : uv_hrtime();
      f->dice = FaultDice(seed ^ (id_ * 0x9E3779B97F4A7C15ull));
    }
    f->generation = owner_.faultsGeneration();
    const uint64_t now = uv_hrtime();
    f->read.reset(s.read_rate, now);
    f->write.reset(s.write_rate, now);
    faults_ = std::move(f);
  }
  return faults_.get();
}

bool Connection::applyReadFaults(std::string_view& data) {
  ConnectionFaults* f = faultState();
  if (f == nullptr) {
    return true;
  }
  const FaultSettings& s = owner_.faults();
  if (s.reset_after_bytes != 0) {
    const uint64_t left = s.reset_after_bytes - std::min(s.reset_after_bytes, f->bytes_in);
    if (data.size() >= left) {
      data = data.substr(0, left);
      f->reset_due = true;  // after the handler has had these bytes
    }
    f->bytes_in += data.size();
    if (data.empty()) {
      return false;
    }
  }
  if (f->read.enabled()) {
    const uint64_t now = uv_hrtime();
    f->read.available(now);
    f->read.take(data.size());
    if (f->read.available(now) == 0 && !f->reset_due) {
      countFault(FaultKind::kReadThrottle);
      pauseForFault((f->read.waitNs(f->read.burst()) + 999999) / 1000000);
    }
  }
  if (const uint32_t ms = f->dice.delayMs(s.delay); ms > 0 && !f->reset_due) {
    countFault(FaultKind::kDelay);
    // Kept with the input, and delivered with it when reading resumes.
    input_.append(data);
    pauseForFault(ms);
    return false;
  }
  return true;
}

void Connection::pauseForFault(uint64_t ms) {
  ConnectionFaults* f = faults_.get();
  // libuv's clock is the loop's, cached in whole milliseconds: refreshed and rounded up, so
  // that a fault's delay is never shorter than asked (it may be up to 1 ms longer).
  uv_update_time(tcp_.loop);
  ms += 1;
  const uint64_t at = uv_now(tcp_.loop) + ms;
  if (paused_by_fault_ && f->resume_at_ms >= at) {
    return;  // already paused for longer
  }
  context().timers().stop(f->resume_timer);
  f->resume_timer =
      context().timers().start(ms, &onFaultResume, reinterpret_cast<void*>(id_), nullptr);
  f->resume_at_ms = at;
  paused_by_fault_ = true;
  updateReading();
}

void Connection::onFaultResume(void* id) {
  core::LoopContext* ctx = core::LoopContext::current();
  Connection* self = ctx ? ctx->connections().get(reinterpret_cast<uint64_t>(id)) : nullptr;
  if (self == nullptr || self->closing_) {
    return;
  }
  if (self->faults_) {
    self->faults_->resume_timer = 0;
  }
  self->paused_by_fault_ = false;
  self->updateReading();
  // What a delay held back, or the handler kept meanwhile, goes now.
  self->redeliverKept();
}

void Connection::pump() {
  ConnectionFaults* f = faultState();
  if (in_flight_ != 0 || out_.empty() || closing_) {
    return;
  }
  if (f == nullptr || !f->write.enabled()) {
    startWrite();
    return;
  }
  const uint64_t now = uv_hrtime();
  const uint64_t n = f->write.available(now);
  if (n == 0) {
    countFault(FaultKind::kWriteThrottle);
    f->pacing = true;
    const uint64_t wait = f->write.waitNs(std::min<uint64_t>(out_.size(), f->write.burst()));
    context().timers().start(std::max<uint64_t>((wait + 999999) / 1000000, 1), &onPace,
                             reinterpret_cast<void*>(id_), nullptr);
    return;
  }
  const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, out_.size()));
  f->write.take(chunk);
  startWrite(chunk);
}

void Connection::onPace(void* id) {
  core::LoopContext* ctx = core::LoopContext::current();
  Connection* self = ctx ? ctx->connections().get(reinterpret_cast<uint64_t>(id)) : nullptr;
  if (self == nullptr || self->closing_) {
    return;
  }
  if (self->faults_) {
    self->faults_->pacing = false;
  }
  self->pump();
}

void Connection::resetNow() {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0) {
    // Linger on, for zero seconds: close() sends RST instead of FIN.
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  countFault(FaultKind::kReset);
  abort();
}

void Connection::countFault(FaultKind kind) { ++owner_.stats().faults[static_cast<size_t>(kind)]; }

void Connection::onHandleClosed(uv_handle_t* h) {
  auto* self = static_cast<Connection*>(h->data);
  if (--self->open_handles_ == 0) {
    delete self;
  }
}

}  // namespace portd::net
