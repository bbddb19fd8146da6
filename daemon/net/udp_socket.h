#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <memory>
#include <string_view>

#include "core/loop_context.h"
#include "core/uv_handle.h"
#include "net/datagram_guard.h"
#include "net/handler.h"
#include "net/listener_settings.h"
#include "net/listener_stats.h"

namespace portd::net {

// One UDP listener on one worker: its own SO_REUSEPORT socket, read with recvmmsg (up to 20
// datagrams per system call into the worker's datagram buffer). The socket is watched in the
// loop's IoPoller and read here rather than by uv_udp_t, because libuv reads again until EAGAIN: at
// one datagram in flight that is a second, empty recvmmsg per datagram. Here a batch that
// comes back short means the queue was empty, and the next one waits for the next readiness.
// Replies made while a batch is being handed out are collected and leave together in one
// sendmmsg() when the batch ends. Loop thread only.
//
// Datagrams from the listener's own address and port, or from a blocked source port, are
// dropped before the handler sees them (SourceFilter), and replies beyond the listener's
// reply_rate to one source are not sent (ReplyLimiter), whatever the handler: a UDP server
// that answers anything must not be made to answer itself, or another such server, forever.
class UdpSocket : private core::IoWatch {
 public:
  // `stats`: as for TcpListener.
  UdpSocket(core::LoopContext& ctx, ListenerSettings settings,
            std::shared_ptr<const HandlerConfig> handler,
            std::shared_ptr<ListenerStats> stats = nullptr);
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // Takes ownership of a bound socket and starts receiving. Returns 0 or a libuv error.
  int open(int fd);
  void stop();
  // Between a successful open() and stop().
  bool receiving() const { return fd_ >= 0; }

  // Sends `data` to `peer`. Data that lies in the datagram being handled is not copied;
  // anything else is copied into this socket's send buffer. Datagrams the kernel will not take
  // right now are dropped and counted, as UDP allows: a UDP server must never queue without
  // bound. A reply over the destination's reply_rate is not sent either, and is counted.
  void reply(const sockaddr* peer, std::string_view data);

  const ListenerSettings& settings() const { return settings_; }
  // The faults to inject from now on (a reload changes them without replacing the socket).
  void setFaults(const FaultSettings& faults);
  // This socket's id in its worker's table (core::HandleTable): what plugins see. Stale once
  // the socket is stopped (a reload replaces it), so a stored id is refused, never followed.
  uint64_t id() const { return id_; }
  ListenerStats& stats() { return *stats_; }
  Handler& handler() const { return *handler_; }
  // The handler configuration the instance was made from. A reload that carries it over to the
  // new configuration keeps this object (and its instance); it then hands over a pointer to
  // the same HandlerConfig that keeps the new configuration alive instead of the old one, so
  // that the old one can be released while this object goes on.
  const HandlerConfig* handlerConfig() const { return handler_config_.get(); }
  void holdHandlerConfig(std::shared_ptr<const HandlerConfig> same);

 private:
  static void onReadable(core::IoWatch* w, uint32_t events);
  // One recvmmsg() and its datagrams handed out; returns how many arrived (0 when none).
  size_t receiveBatch();
  void deliver(const sockaddr* peer, std::string_view data);
  void flush();
  // Queues one reply for the next sendmmsg().
  void enqueue(const sockaddr* peer, std::string_view data);
  // Hands a datagram that arrived to the handler, or drops or delays it ([listener.faults]).
  void receive(const sockaddr* peer, std::string_view data);
  void countFault(FaultKind kind) { ++stats_->faults[static_cast<size_t>(kind)]; }
  struct Delayed;
  static void onDelayed(void* arg);
  static void onHeldTooLong(void* arg);
  void sendHeld();

  static constexpr size_t kBatch = core::LoopContext::kDatagramSlots;

  core::LoopContext& ctx_;
  const ListenerSettings settings_;
  std::shared_ptr<const HandlerConfig> handler_config_;
  std::shared_ptr<ListenerStats> stats_;  // before handler_: the instance may register counters
  std::unique_ptr<Handler> handler_;
  uint64_t io_token_ = 0;  // the socket's registration in the poller
  int fd_ = -1;
  uint64_t id_ = 0;
  bool in_batch_ = false;
  SourceFilter filter_;
  ReplyLimiter limiter_;

  // Where recvmmsg() puts the datagrams of a batch and their sources (the bytes go to the
  // worker's datagram buffer, one kDatagramSlot each).
  mmsghdr rmsgs_[kBatch];
  iovec riovs_[kBatch];
  sockaddr_storage rpeers_[kBatch];

  // Replies waiting for the end of the batch.
  mmsghdr msgs_[kBatch];
  iovec iovs_[kBatch];
  sockaddr_storage peers_[kBatch];
  size_t pending_ = 0;
  // Reply bytes that did not come from the received datagram; allocated on first use.
  std::unique_ptr<char[]> send_buffer_;
  size_t send_used_ = 0;

  // [listener.faults]. Datagrams waiting out a delay, in a fixed set of slots allocated on the
  // first delay, and the one reply held back to be sent after the next.
  static constexpr size_t kDelaySlots = 256;
  static constexpr size_t kDelayBytes = 4 << 20;
  FaultSettings faults_;
  FaultDice dice_;
  std::unique_ptr<Delayed[]> delayed_;
  size_t delayed_bytes_ = 0;
  std::string held_;
  sockaddr_storage held_peer_{};
  bool holding_ = false;
  uint64_t held_timer_ = 0;
};

}  // namespace portd::net
