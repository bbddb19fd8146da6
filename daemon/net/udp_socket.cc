#include "net/udp_socket.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>

namespace portd::net {

namespace {
constexpr size_t kRecvBufferSize =
    core::LoopContext::kDatagramSlot * core::LoopContext::kDatagramSlots;
constexpr size_t kSendBufferSize = kRecvBufferSize;
// How long a reply held back to be reordered waits for a next one to overtake it.
constexpr uint64_t kHoldMs = 1000;
}  // namespace

struct UdpSocket::Delayed {
  UdpSocket* self = nullptr;
  bool busy = false;
  sockaddr_storage peer{};
  std::string data;
};

UdpSocket::UdpSocket(core::LoopContext& ctx, ListenerSettings settings,
                     std::shared_ptr<const HandlerConfig> handler,
                     std::shared_ptr<ListenerStats> stats)
    : ctx_(ctx),
      settings_(std::move(settings)),
      handler_config_(std::move(handler)),
      stats_(stats ? std::move(stats) : std::make_shared<ListenerStats>()),
      handler_(handler_config_->createInstance({ctx, settings_.name, *stats_})),
      filter_(settings_.blocked_source_ports),
      limiter_(settings_.reply_rate, settings_.reply_burst) {
  on_io = &onReadable;
  id_ = ctx_.datagramSockets().add(this);
  setFaults(settings_.faults);
}

void UdpSocket::setFaults(const FaultSettings& faults) {
  if (faults.seed != faults_.seed || !faults_.any()) {
    // The same seed on the same worker draws the same faults for the same datagrams; no seed
    // draws from the clock.
    const uint64_t seed = faults.seed != 0 ? faults.seed : uv_hrtime();
    dice_ = FaultDice(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(ctx_.workerId()) + 1);
  }
  faults_ = faults;
  if (holding_ && faults_.udp_reorder == 0) {
    sendHeld();
  }
}

UdpSocket::~UdpSocket() { stop(); }

void UdpSocket::holdHandlerConfig(std::shared_ptr<const HandlerConfig> same) {
  // Only the very object the instance was made from: anything else would serve new
  // connections with settings the instance does not have.
  assert(same.get() == handler_config_.get());
  handler_config_ = std::move(same);
}

int UdpSocket::open(int fd) {
  PORTD_ASSERT_LOOP_THREAD(ctx_);
  // Level-triggered: what a bounded number of batches left behind wakes the loop again.
  io_token_ = ctx_.poller().add(fd, EPOLLIN, this);
  int rc = io_token_ != 0 ? 0 : -errno;
  if (rc == 0) {
    fd_ = fd;
    // Where the socket is bound (port 0 is resolved by now), for telling our own datagrams.
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      filter_.bind(reinterpret_cast<const sockaddr*>(&local));
    }
    char* base = ctx_.datagramBuffer();
    for (size_t i = 0; i < kBatch; ++i) {
      riovs_[i] =
          iovec{base + i * core::LoopContext::kDatagramSlot, core::LoopContext::kDatagramSlot};
      // Set up once: recvmmsg() writes back only msg_namelen, msg_flags and msg_len of the
      // entries it fills, and receiveBatch() restores the lengths of those.
      rmsgs_[i].msg_hdr = msghdr{};
      rmsgs_[i].msg_hdr.msg_name = &rpeers_[i];
      rmsgs_[i].msg_hdr.msg_namelen = sizeof rpeers_[i];
      rmsgs_[i].msg_hdr.msg_iov = &riovs_[i];
      rmsgs_[i].msg_hdr.msg_iovlen = 1;
    }
  }
  if (rc != 0) {
    fd_ = -1;
    ::close(fd);
  }
  return rc;
}

void UdpSocket::stop() {
  if (id_ != 0) {
    ctx_.datagramSockets().remove(id_);
    id_ = 0;
  }
  if (fd_ < 0) {
    return;
  }
  // Delayed datagrams and a held reply die with the socket, as they would in the network.
  ctx_.timers().cancelAll(this);
  holding_ = false;
  flush();
  // Out of the epoll set explicitly: the socket may be shared (a systemd socket), and close()
  // alone would not remove it.
  ctx_.poller().remove(io_token_, fd_);
  io_token_ = 0;
  ::close(fd_);
  fd_ = -1;
}

void UdpSocket::onReadable(core::IoWatch* w, uint32_t /*events*/) {
  auto* self = static_cast<UdpSocket*>(w);
  // A full batch may have left more behind; a short one emptied the queue. A bounded number of
  // batches per wake-up keeps one busy socket from starving the rest of the loop (the poll is
  // level-triggered, so what is left wakes the loop again).
  for (int round = 0; round < 4 && self->fd_ >= 0; ++round) {
    if (self->receiveBatch() < kBatch) {
      break;
    }
  }
}

size_t UdpSocket::receiveBatch() {
  int n;
  do {
    n = ::recvmmsg(fd_, rmsgs_, kBatch, 0, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      // ICMP errors queued on the socket (a peer's port unreachable) come back here once each;
      // the next read goes on with the datagrams.
      spdlog::debug("listener \"{}\": receive failed: {}", settings_.name, std::strerror(errno));
      return kBatch;  // read again: there may be datagrams behind the error
    }
    return 0;
  }
  // Replies made while the batch is handed out wait for its end, then leave in one sendmmsg():
  // they may point into the receive buffer, which the next batch overwrites.
  in_batch_ = true;
  for (int i = 0; i < n && fd_ >= 0; ++i) {
    const msghdr& h = rmsgs_[i].msg_hdr;
    if ((h.msg_flags & MSG_TRUNC) != 0) {
      ++stats_->datagrams_dropped;  // truncated: answering part of it would be wrong
      continue;
    }
    deliver(reinterpret_cast<const sockaddr*>(h.msg_name),
            std::string_view(static_cast<const char*>(h.msg_iov->iov_base), rmsgs_[i].msg_len));
  }
  in_batch_ = false;
  flush();
  for (int i = 0; i < n; ++i) {
    rmsgs_[i].msg_hdr.msg_namelen = sizeof rpeers_[i];
  }
  return static_cast<size_t>(n);
}

void UdpSocket::deliver(const sockaddr* peer, std::string_view data) {
  ++stats_->datagrams_in;
  stats_->bytes_in += data.size();
  switch (filter_.check(peer)) {
    case Refusal::kNone:
      receive(peer, data);
      break;
    case Refusal::kOwnAddress:
      ++stats_->datagrams_refused_own_address;
      break;
    case Refusal::kBlockedPort:
      ++stats_->datagrams_refused_blocked_port;
      break;
  }
}

void UdpSocket::receive(const sockaddr* peer, std::string_view data) {
  if (!faults_.any()) {
    handler_->onDatagram(*this, peer, data);
    return;
  }
  if (dice_.chance(faults_.udp_drop)) {
    countFault(FaultKind::kUdpDrop);
    return;
  }
  const uint32_t delay_ms = dice_.delayMs(faults_.delay);
  if (delay_ms == 0) {
    handler_->onDatagram(*this, peer, data);
    return;
  }
  if (!delayed_) {
    delayed_ = std::make_unique<Delayed[]>(kDelaySlots);
  }
  Delayed* slot = nullptr;
  for (size_t i = 0; i < kDelaySlots && slot == nullptr; ++i) {
    slot = delayed_[i].busy ? nullptr : &delayed_[i];
  }
  if (slot == nullptr || delayed_bytes_ + data.size() > kDelayBytes) {
    // Bounded: beyond it a datagram goes through at once rather than make memory grow.
    countFault(FaultKind::kDelayOverflow);
    handler_->onDatagram(*this, peer, data);
    return;
  }
  countFault(FaultKind::kDelay);
  slot->self = this;
  slot->busy = true;
  std::memcpy(&slot->peer, peer,
              peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  slot->data.assign(data);
  delayed_bytes_ += data.size();
  // Refreshed and rounded up, as for TCP: never shorter than asked.
  uv_update_time(ctx_.loop());
  ctx_.timers().start(delay_ms + 1, &onDelayed, slot, this);
}

void UdpSocket::onDelayed(void* arg) {
  auto* slot = static_cast<Delayed*>(arg);
  UdpSocket* self = slot->self;
  self->handler_->onDatagram(*self, reinterpret_cast<const sockaddr*>(&slot->peer), slot->data);
  // The handler may have replied: outside a receive batch, what it queued leaves now.
  self->flush();
  self->delayed_bytes_ -= slot->data.size();
  slot->busy = false;
}

void UdpSocket::reply(const sockaddr* peer, std::string_view data) {
  PORTD_ASSERT_LOOP_THREAD(ctx_);
  if (fd_ < 0) {
    return;
  }
  if (limiter_.enabled() && !limiter_.admit(peer, uv_now(ctx_.loop()))) {
    ++stats_->replies_refused_rate;
    return;
  }
  if (!faults_.any()) {
    enqueue(peer, data);
    return;
  }
  if (!holding_ && dice_.chance(faults_.udp_reorder)) {
    // Held back and sent after the next reply; a socket that sends nothing more for a while
    // sends it anyway, late.
    countFault(FaultKind::kUdpReorder);
    held_.assign(data);
    std::memcpy(&held_peer_, peer,
                peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    holding_ = true;
    held_timer_ = ctx_.timers().start(kHoldMs, &onHeldTooLong, this, this);
    return;
  }
  enqueue(peer, data);
  if (dice_.chance(faults_.udp_duplicate)) {
    countFault(FaultKind::kUdpDuplicate);
    enqueue(peer, data);
  }
  if (holding_) {
    sendHeld();
  }
}

void UdpSocket::sendHeld() {
  holding_ = false;
  ctx_.timers().stop(held_timer_);  // a stale id (it fired) is refused, nothing else
  enqueue(reinterpret_cast<const sockaddr*>(&held_peer_), held_);
}

void UdpSocket::onHeldTooLong(void* arg) {
  auto* self = static_cast<UdpSocket*>(arg);
  self->held_timer_ = 0;
  if (self->holding_) {
    self->sendHeld();
    self->flush();
  }
}

void UdpSocket::enqueue(const sockaddr* peer, std::string_view data) {
  if (pending_ == kBatch) {
    flush();
  }
  const char* base = ctx_.datagramBuffer();
  const bool in_recv_buffer =
      data.data() >= base && data.data() + data.size() <= base + kRecvBufferSize;
  const char* bytes = data.data();
  if (!in_recv_buffer) {
    if (data.size() > kSendBufferSize) {
      ++stats_->datagrams_dropped;
      return;
    }
    if (!send_buffer_) {
      send_buffer_ = std::make_unique<char[]>(kSendBufferSize);
    }
    if (send_used_ + data.size() > kSendBufferSize) {
      flush();
    }
    std::memcpy(send_buffer_.get() + send_used_, data.data(), data.size());
    bytes = send_buffer_.get() + send_used_;
    send_used_ += data.size();
  }
  size_t i = pending_++;
  socklen_t len = peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  std::memcpy(&peers_[i], peer, len);
  iovs_[i] = iovec{const_cast<char*>(bytes), data.size()};
  msgs_[i] = mmsghdr{};
  msgs_[i].msg_hdr.msg_name = &peers_[i];
  msgs_[i].msg_hdr.msg_namelen = len;
  msgs_[i].msg_hdr.msg_iov = &iovs_[i];
  msgs_[i].msg_hdr.msg_iovlen = 1;
  if (!in_batch_) {
    flush();
  }
}

void UdpSocket::flush() {
  size_t sent = 0;
  while (sent < pending_) {
    int n = ::sendmmsg(fd_, msgs_ + sent, static_cast<unsigned>(pending_ - sent), 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // The socket's send buffer is full: the rest of the batch would fail the same way.
        stats_->datagrams_dropped += pending_ - sent;
        break;
      }
      // An error for the first datagram, such as an unreachable peer: drop that one and go on
      // with the rest.
      spdlog::debug("listener \"{}\": send failed: {}", settings_.name, std::strerror(errno));
      ++stats_->datagrams_dropped;
      ++sent;
      continue;
    }
    for (int i = 0; i < n; ++i) {
      stats_->bytes_out += msgs_[sent + static_cast<size_t>(i)].msg_len;
    }
    stats_->datagrams_out += static_cast<uint64_t>(n);
    sent += static_cast<size_t>(n);
  }
  pending_ = 0;
  send_used_ = 0;
}

}  // namespace portd::net
