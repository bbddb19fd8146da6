#pragma once

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/loop_context.h"
#include "core/rate_limit.h"
#include "core/uv_handle.h"
#include "net/connection.h"
#include "net/handler.h"
#include "net/listener_settings.h"
#include "net/listener_stats.h"
#include "net/peer_counts.h"

namespace portd::net {

// One TCP listener on one worker: its own SO_REUSEPORT socket, its own handler instance and
// the connections it accepted. Loop thread only.
//
// The listening socket is watched in the loop's IoPoller and accepted with accept4() here
// rather than with uv_listen(): libuv's accept loop calls back and retries at once on a persistent
// error (ENOMEM, or EMFILE once its reserve descriptor is gone), which spins the loop. Owning the
// loop lets a failing listener pause for a moment, as nginx does, and resume by itself.
//
// It outlives its listening socket: stopAccepting() closes the socket, while the connections
// (which use the handler and the settings) go on until they end or abortAll() is called.
class TcpListener : private core::IoWatch {
 public:
  // Makes the handler instance from `handler`, which the listener keeps: connections keep the
  // settings and handler they started with even if the daemon moves on to a newer
  // configuration. `stats` is where this worker's counters of the listener go (the server keeps
  // them for the metrics); null gives the listener counters of its own.
  TcpListener(core::LoopContext& ctx, ListenerSettings settings,
              std::shared_ptr<const HandlerConfig> handler,
              std::shared_ptr<ListenerStats> stats = nullptr);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Takes ownership of a bound socket and starts accepting. Returns 0 or a libuv error.
  // kListening: the socket listens already (server::SocketSet's, whose backlog is the
  // listener's `backlog` or systemd's), and listen() again would change its backlog.
  static constexpr int kListening = -1;
  int listen(int fd, int backlog = 511);
  void stopAccepting();
  // Keeps one descriptor in reserve (of /dev/null) and gives it up to accept a connection when
  // the process is out of descriptors: what keeps the admin endpoint's /healthz and /metrics
  // answering while the workers' listeners are paused by EMFILE, so that a liveness probe does
  // not kill a server that is only busy. Loop thread.
  void keepReserveDescriptor();
  // Accepts the connections the kernel has already completed (their clients believe they are
  // connected and may have sent a request), then stops accepting: how a drain begins.
  void acceptBacklogAndStop();
  // Closes every connection now.
  void abortAll();
  // Tells the handler, for each open connection, that the daemon is draining.
  void drainConnections();

  // Visits every open connection (for tests and for reports); `fn` must not close them.
  template <typename Fn>
  void forEachConnection(Fn&& fn) const {
    for (Connection* c = head_; c != nullptr; c = c->next_) {
      fn(*c);
    }
  }

  bool accepting() const { return fd_ >= 0; }
  size_t connectionCount() const { return count_; }
  // Called when the listener has stopped accepting and its last connection has closed.
  void setOnDrained(std::function<void()> fn) { on_drained_ = std::move(fn); }

  core::LoopContext& context() const { return ctx_; }
  const ListenerSettings& settings() const { return settings_; }
  // [listener.faults]: a reload changes them in place; open connections notice the new
  // generation at their next read or write.
  void setFaults(const FaultSettings& faults) {
    faults_ = faults;
    faults_on_ = faults_.any();
    ++faults_generation_;
  }
  bool faultsOn() const { return faults_on_; }
  const FaultSettings& faults() const { return faults_; }
  uint32_t faultsGeneration() const { return faults_generation_; }
  Handler& handler() const { return *handler_; }
  // The handler configuration the instance was made from. A reload that carries it over to the
  // new configuration keeps this object (and its instance); it then hands over a pointer to
  // the same HandlerConfig that keeps the new configuration alive instead of the old one, so
  // that the old one can be released while this object goes on.
  const HandlerConfig* handlerConfig() const { return handler_config_.get(); }
  void holdHandlerConfig(std::shared_ptr<const HandlerConfig> same);
  ListenerStats& stats() { return *stats_; }
  // The listening socket has TCP_DEFER_ACCEPT: an accepted connection has input waiting.
  bool expectsInput() const { return expects_input_; }
  // Without TCP_DEFER_ACCEPT: whether to read a new connection before registering it, as if it
  // had, because most first reads lately found input (at least four in five). While they do
  // not, every 32nd connection still tries, and one that finds input turns it back on, so
  // that a change of clients is noticed.
  bool readFirst() { return readsFirst() || (++first_read_probe_ & 31u) == 0; }
  bool readsFirst() const { return first_read_score_ >= 0; }
  // What a first read found: input (or the end of the stream) or nothing.
  void firstRead(bool found) {
    first_read_score_ =
        static_cast<int8_t>(found ? std::min(std::max<int>(first_read_score_, 0) + 1, 16)
                                  : std::max(first_read_score_ - 4, -16));
  }

 private:
  friend class Connection;
  static void onReadable(core::IoWatch* w, uint32_t events);
  // Watches the listening socket (again); false when the poller refused it.
  bool watch();
  // Accepts one connection; false when there was none to take (or accepting failed).
  bool acceptOne();
  void admit(int fd, const sockaddr* peer);
  void pauseAccepting(int error);
  bool acceptWithReserve();
  void refillReserve();
  void unlink(Connection* c);
  // Activity on `c` (a read or a write): it moves to the front of the idle list.
  void touched(Connection* c) {
    if (idle_timeout_ms_ != 0 && newest_ != c && !c->closing_) {
      idleUnlink(c);
      idleLinkFront(c);
    }
  }
  void idleUnlink(Connection* c);
  void idleLinkFront(Connection* c);
  static void onIdleTimer(uv_timer_t* t);

  core::LoopContext& ctx_;
  const ListenerSettings settings_;
  std::shared_ptr<const HandlerConfig> handler_config_;
  std::shared_ptr<ListenerStats> stats_;  // before handler_: the instance may register counters
  std::unique_ptr<Handler> handler_;
  int fd_ = -1;
  int reserve_fd_ = -1;
  // Per peer address, when max_connections_per_ip is set; allocated once, with the listener.
  std::unique_ptr<PeerCounts> peers_;
  bool reserve_wanted_ = false;
  bool expects_input_ = false;
  int8_t first_read_score_ = 0;  // +1 per first read that found input, -4 per one that did not
  uint8_t first_read_probe_ = 0;
  uint64_t io_token_ = 0;  // the listening socket's registration in the poller, while accepting
  core::UvHandle<uv_timer_t> resume_timer_;
  Connection* head_ = nullptr;
  size_t count_ = 0;
  // The idle timeout: connections by last activity (newest_ first, oldest_ last) and one timer,
  // armed for when the oldest would time out. Activity only moves a connection to the front;
  // the timer is not re-armed per read or write, it re-arms itself for what is left when it
  // fires early. Unreferenced: open connections keep the loop alive, not the timer.
  const uint64_t idle_timeout_ms_;
  // The listener's lingering_timeout, at most Connection::kMaxLingerMs; 0 = no lingering.
  const uint64_t lingering_ms_;
  Connection* newest_ = nullptr;
  Connection* oldest_ = nullptr;
  core::UvHandle<uv_timer_t> idle_timer_;
  core::RateLimit accept_error_log_;
  core::RateLimit reject_log_;
  std::function<void()> on_drained_;
  FaultSettings faults_;
  bool faults_on_ = false;
  uint32_t faults_generation_ = 0;
};

}  // namespace portd::net
