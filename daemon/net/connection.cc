#include "net/connection.h"

#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>

#include "core/loop_context.h"
#include "net/socket_io.h"
#include "net/tcp_listener.h"

namespace portd::net {

void Handler::onPeerClosed(Connection& conn) { conn.close(); }

namespace {
// Kept input larger than this is given back to the allocator once it has been consumed, so
// that one large partial message does not pin memory for the life of the connection.
constexpr size_t kKeepCapacity = 64 * 1024;
// Output buffers handed to one writev().
constexpr unsigned kWriteIov = 16;
}  // namespace

Connection::Connection(TcpListener& owner, int fd)
    : owner_(owner), ctx_(owner.context()), fd_(fd), out_(owner.context().writePool()) {
  on_io = &onIo;
  id_ = owner.context().connections().add(this);
}

void Connection::destroy(void* self) { delete static_cast<Connection*>(self); }

core::LoopContext& Connection::context() const { return owner_.context(); }
Handler& Connection::handler() const { return owner_.handler(); }
size_t Connection::writeLimit() const { return owner_.settings().write_buffer_limit; }

Address Connection::peerAddress() const {
  sockaddr_storage ss{};
  return peerName(&ss) > 0 ? Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss)) : Address{};
}

size_t Connection::queuedBytes() const {
  return out_.size() + (batch_slot_ != 0 ? ctx_.poller().sends().pending(batch_slot_).size() : 0);
}

size_t Connection::unreadInput() const {
  int n = 0;
  if (fd_ < 0 || ::ioctl(fd_, FIONREAD, &n) != 0 || n < 0) {
    return 0;
  }
  return static_cast<size_t>(n);
}

int Connection::peerName(sockaddr_storage* out) const {
  socklen_t len = sizeof *out;
  if (fd_ < 0 || ::getpeername(fd_, reinterpret_cast<sockaddr*>(out), &len) != 0) {
    return 0;
  }
  return static_cast<int>(len);
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
  if (closing_) {
    return;
  }
  updateReading();
  // On a listening socket with TCP_DEFER_ACCEPT the kernel queues a connection only once its
  // first data arrived: read it now, before the socket is registered, as nginx does with
  // `deferred`. A request answered with "Connection: close" then costs accept4, read, write
  // and close, with no epoll_ctl() at all. Without it the data usually arrive a little after
  // the accept, and reading first would mostly cost an EAGAIN.
  readable_ = owner_.expectsInput();
  if (reading_ && (readable_ || owner_.readFirst())) {
    // Without TCP_DEFER_ACCEPT, a guess the listener learns from the last first reads: the
    // request is usually in by the time the accept runs (under load all the more), and then
    // reading at once saves the wake-up that would announce it, and for an answer that closes
    // the connection, the registration too. A wrong guess costs one read (EAGAIN).
    readable_ = true;
    const bool found = readSome();
    if (!owner_.expectsInput()) {
      owner_.firstRead(found);
    }
    if (closing_ || lingering_) {
      return;  // lingering registered it
    }
  }
  started_ = true;
  if (close_after_flush_ && out_.empty()) {
    // Answered and closing, the answer waiting in the batch: nothing more is read, so there
    // is nothing to register for, unless the kernel refuses part of it (waitWritable).
    return;
  }
  watch();
}

void Connection::watch() {
  // Registered once for input. Output is added (waitWritable) only the first time the kernel
  // refuses a write, which most connections never see: a new socket is writable at once, and
  // asking for EPOLLOUT here would wake the loop for that alone. Input that arrived since the
  // read is reported at once.
  const uint32_t events = EPOLLIN | EPOLLRDHUP | EPOLLET | (watching_output_ ? EPOLLOUT : 0u);
  io_token_ = ctx_.poller().add(fd_, events, this);
  if (io_token_ == 0) {
    spdlog::debug("listener \"{}\": epoll_ctl failed: {}", owner_.settings().name,
                  std::strerror(errno));
    ++owner_.stats().accept_errors;
    abort();
  }
}

void Connection::touch() {
  last_activity_ms_ = uv_now(ctx_.loop());
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
  unanswered_ = 0;
  // faultState() only when faults are or were on: the common case costs no call.
  ConnectionFaults* f = faults_ || owner_.faultsOn() ? faultState() : nullptr;
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
  if (batch_slot_ != 0 || (f == nullptr && out_.empty())) {
    // Into the batch while what it holds for this connection stays below the write limit: a
    // handler that finds queuedBytes() at the limit stops and waits for onWritable(), which
    // only output queued here (out_) brings.
    core::SendBatch& batch = ctx_.poller().sends();
    const size_t held = batch_slot_ != 0 ? batch.pending(batch_slot_).size() : 0;
    if (f == nullptr && held + data.size() < owner_.settings().write_buffer_limit &&
        (batch_slot_ != 0 ? batch.extend(&batch_slot_, data)
                          : (batch_slot_ = batch.add(fd_, data, &kBatchReceiver, this)) != 0)) {
      // Inside its own onData() the read that brought the data has just stamped it.
      if (!in_on_data_) {
        touch();
      }
      return true;
    }
    if (batch_slot_ != 0) {
      return unbatch(data, referenced);
    }
  }
  if (out_.empty() && !paced) {
    ssize_t n;
    do {
      n = sendSocket(fd_, data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(data.size())) {
      owner_.stats().bytes_out += data.size();
      touch();
      if (f != nullptr && f->reset_on_flush) {
        resetNow();
        return false;
      }
      return true;
    }
    if (n < 0 && errno != EAGAIN) {
      spdlog::debug("listener \"{}\": write failed: {}", owner_.settings().name,
                    std::strerror(errno));
      abort();
      return false;
    }
    if (n > 0) {
      owner_.stats().bytes_out += static_cast<size_t>(n);
      touch();
      data.remove_prefix(static_cast<size_t>(n));
    }
    waitWritable();
    if (closing_) {
      return false;
    }
  }
  if (referenced) {
    out_.appendReferenced(data);
  } else {
    out_.append(data);
  }
  if (paced && !f->pacing) {
    pump();
  }
  return checkBackpressure();
}

bool Connection::unbatch(std::string_view data, bool referenced) {
  core::SendBatch& batch = ctx_.poller().sends();
  out_.append(batch.pending(batch_slot_));
  batch.cancel(batch_slot_);
  batch_slot_ = 0;
  if (referenced) {
    out_.appendReferenced(data);
  } else {
    out_.append(data);
  }
  if (!flush()) {
    return false;
  }
  return checkBackpressure();
}

const core::SendBatch::Receiver Connection::kBatchReceiver = {&onBatchSettled, &onBatchFollow};

bool Connection::onBatchSettled(void* owner, ssize_t result, std::string_view unsent) {
  auto* self = static_cast<Connection*>(owner);
  self->batch_slot_ = 0;
  if (result > 0) {
    self->owner_.stats().bytes_out += static_cast<uint64_t>(result);
  }
  if (unsent.empty()) {
    // Sent whole: a follow-up only for a close() or a handler that waited for it.
    return self->close_after_flush_ || self->wants_writable_ || self->paused_by_backpressure_;
  }
  // As after a short direct send, the rest is queued (the queue was empty: an entry is made
  // only then, and nothing was written since). An error leaves it to onBatchFollow to abort.
  if (result >= 0 || result == -EAGAIN || result == -EINTR) {
    self->out_.append(unsent);
  }
  return true;
}

void Connection::onBatchFollow(void* owner, ssize_t result) {
  auto* self = static_cast<Connection*>(owner);
  if (self->closing_) {
    return;  // closed meanwhile, by another connection's handler
  }
  if (result < 0 && result != -EAGAIN && result != -EINTR) {
    spdlog::debug("listener \"{}\": write failed: {}", self->owner_.settings().name,
                  std::strerror(static_cast<int>(-result)));
    self->abort();
    return;
  }
  if (self->out_.empty()) {
    self->afterOutput();  // a close() that waited for it, a handler waiting for room
    return;
  }
  if (!self->write_blocked_) {
    self->waitWritable();  // the rest waits for room
  }
  if (!self->closing_) {
    self->checkBackpressure();
  }
}

bool Connection::checkBackpressure() {
  // At the limit, not only past it: the C ABI refuses a write once the queue is at the limit
  // (host_api.cc), so a connection that went on reading there would hand its handler input it
  // can no longer answer. Echo, which answers with one write per read, lost a whole read
  // block that way when a write left exactly the limit queued.
  if (!paused_by_backpressure_ && out_.size() >= owner_.settings().write_buffer_limit) {
    paused_by_backpressure_ = true;
    updateReading();
  }
  return !closing_;
}

bool Connection::flush(size_t limit) {
  while (!out_.empty() && limit > 0 && !write_blocked_) {
    iovec iov[kWriteIov];
    unsigned n = out_.peek(iov, kWriteIov);
    size_t total = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (total + iov[i].iov_len >= limit) {
        iov[i].iov_len = limit - total;
        n = i + 1;
      }
      total += iov[i].iov_len;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    const ssize_t w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN) {
        waitWritable();
        break;
      }
      spdlog::debug("listener \"{}\": write failed: {}", owner_.settings().name,
                    std::strerror(errno));
      abort();
      return false;
    }
    out_.consume(static_cast<size_t>(w));
    owner_.stats().bytes_out += static_cast<size_t>(w);
    limit -= static_cast<size_t>(w);
    touch();
    if (static_cast<size_t>(w) < total) {
      waitWritable();
    }
  }
  return !closing_;
}

void Connection::waitWritable() {
  write_blocked_ = true;
  if (!watching_output_) {
    // Once per connection: edge-triggered, it can stay. The change reports the socket's state
    // at once, so room that appeared since the write is not missed.
    watching_output_ = true;
    if (io_token_ == 0) {
      if (started_) {
        watch();  // start() left it out: it was closing, its answer in the batch
      }
      return;  // else start() registers it with EPOLLOUT
    }
    if (ctx_.poller().modify(fd_, io_token_, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0) {
      spdlog::debug("listener \"{}\": epoll_ctl failed: {}", owner_.settings().name,
                    std::strerror(errno));
      abort();
    }
  }
}

void Connection::afterOutput() {
  if (out_.empty()) {
    if (faults_ && faults_->reset_on_flush) {
      resetNow();
      return;
    }
    if (close_after_flush_) {
      closeOrLinger();
      return;
    }
  }
  if ((paused_by_backpressure_ || wants_writable_) &&
      out_.size() <= owner_.settings().write_buffer_limit / 2) {
    paused_by_backpressure_ = false;
    wants_writable_ = false;
    owner_.handler().onWritable(*this);
    if (closing_) {
      return;
    }
    updateReading();
    // Requests already read and kept would otherwise wait for bytes the peer may never send.
    redeliverKept();
  }
}

void Connection::onIo(core::IoWatch* w, uint32_t events) {
  auto* self = static_cast<Connection*>(w);
  if (self->lingering_) {
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
      self->readable_ = true;
      if (!self->linger_read_pending_) {  // else it reads in its turn, as readSome does
        self->dropInput();
      }
    }
    return;
  }
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0 && self->write_blocked_) {
    self->write_blocked_ = false;
    ConnectionFaults* f = self->faultState();
    if (f != nullptr && f->write.enabled()) {
      self->pump();
    } else if (self->flush()) {
      self->afterOutput();
    }
    if (self->closing_) {
      return;
    }
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
    self->readable_ = true;
    if ((events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
      self->peer_hup_ = true;
    }
    // A read already put off (a peer that keeps its socket full) reads in its turn: one more
    // here would give that peer a second share of this turn.
    if (self->reading_ && !self->read_scheduled_) {
      self->readSome();
    }
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
  reading_ = want;
  // Edge-triggered: input that arrived while reading was off brings no new event. Not read
  // here, since this may run inside a handler's callback, which must not be re-entered.
  if (want && readable_) {
    scheduleRead();
  }
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

bool Connection::readSome() {
  core::BufferPool& pool = ctx_.readPool();
  for (int round = 0; round < kReadRounds; ++round) {
    size_t size = pool.blockSize();
    // read_rate: no read larger than a burst, so that the rate holds over short spans too.
    if (faults_ && faults_->read.enabled()) {
      size = std::min<size_t>(size, faults_->read.burst());
    }
    // The buffer goes straight back to the pool: handlers copy what they keep, so the next
    // read (on any connection of this worker) reuses the same block.
    char* buf = pool.acquire();
    const ssize_t n = readSocket(fd_, buf, size);
    if (n > 0) {
      // A short read emptied the socket (new input brings a new event), unless the peer has
      // shut its side: then read on to the end of the stream, which brings no event. Known
      // before the handler sees the data, for a close() it makes: a socket left with input
      // lingers (closeOrLinger).
      const bool emptied = static_cast<size_t>(n) < size && !peer_hup_;
      if (emptied) {
        readable_ = false;
      }
      unanswered_ = static_cast<uint32_t>(
          std::min<size_t>(unanswered_ + static_cast<size_t>(n), kStreamingBytes));
      streaming_ = unanswered_ == kStreamingBytes;
      owner_.stats().bytes_in += static_cast<uint64_t>(n);
      touch();
      std::string_view data(buf, static_cast<size_t>(n));
      if ((faults_ || owner_.faultsOn()) && !applyReadFaults(data)) {
        // Held back for a delay (kept with the input), or the connection was reset.
      } else if (input_.empty()) {
        deliver(data);
      } else {
        // What the handler kept last time comes first: one contiguous message to parse.
        input_.append(data);
        deliver(input_);
      }
      pool.release(buf);
      if (faults_ && faults_->reset_due && !closing_) {
        resetNow();
      }
      if (closing_ || !reading_ || emptied) {
        return true;  // what is left, if anything (readable_), is read if reading resumes
      }
      continue;
    }
    pool.release(buf);
    if (n == 0) {
      readable_ = false;
      peer_closed_ = true;
      updateReading();
      owner_.handler().onPeerClosed(*this);
      return true;
    }
    if (errno == EAGAIN) {
      readable_ = false;
      return round > 0;
    }
    if (errno != EINTR) {
      spdlog::debug("listener \"{}\": read failed: {}", owner_.settings().name,
                    std::strerror(errno));
      abort();
      return true;
    }
  }
  scheduleRead();
  return true;
}

void Connection::scheduleRead() {
  if (!read_scheduled_) {
    read_scheduled_ = true;
    ctx_.poller().defer(&onScheduledRead, reinterpret_cast<void*>(id_));
  }
}

void Connection::onScheduledRead(void* id) {
  core::LoopContext* ctx = core::LoopContext::current();
  if (Connection* self = ctx ? ctx->connections().get(reinterpret_cast<uint64_t>(id)) : nullptr) {
    self->read_scheduled_ = false;
    if (self->reading_ && self->readable_) {
      self->readSome();
    }
  }
}

void Connection::close() {
  if (closing_ || close_after_flush_) {
    return;
  }
  if (out_.empty() && batch_slot_ == 0) {
    closeOrLinger();
    return;
  }
  if (out_.empty()) {
    // Its reply is all in the batch: the FIN can leave with it.
    ctx_.poller().sends().finishes(batch_slot_);
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
  if (linger_timer_ != 0) {
    context().timers().stop(linger_timer_);
  }
  // Queued blocks go back to the pool now. What waits in the batch still leaves, and the batch
  // closes the socket after it: a direct send would have handed it to the kernel before this.
  out_.clear();
  if (batch_slot_ != 0) {
    ctx_.poller().sends().release(batch_slot_);
    batch_slot_ = 0;
    fd_ = -1;
  }
  // From here on the listener may be on its way out (it was the last connection of a draining
  // listener): it is freed from a posted task, never inside unlink(), but nothing below relies
  // on more than that one call.
  TcpListener* reserve = owner_.reserve_wanted_ ? &owner_ : nullptr;
  owner_.unlink(this);
  // close() takes the socket out of the epoll set: no EPOLL_CTL_DEL. Should a copy of the
  // descriptor live on elsewhere, the registration does too, but its token is dead.
  ctx_.poller().remove(io_token_);
  io_token_ = 0;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  ctx_.poller().defer(&destroy, this);
  if (reserve != nullptr) {
    // The number this connection gave back is the first chance to refill the reserve.
    reserve->refillReserve();
  }
}

}  // namespace portd::net
