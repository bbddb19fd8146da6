#pragma once

#include <uv.h>

#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "admin/server_state.h"
#include "config/config.h"
#include "core/loop_context.h"
#include "core/mailbox.h"
#include "core/uv_handle.h"

namespace portd::net {
class TcpListener;
class UdpSocket;
}  // namespace portd::net

namespace portd::server {

// What a worker serves: an immutable configuration and, for each of its listeners (by index),
// the sockets this worker owns (dups of the server's, so that a socket outlives any one
// worker's copy) and the counters it writes.
struct Assignment {
  std::shared_ptr<const config::Config> config;
  std::vector<std::vector<int>> fds;                       // [listener][k]
  std::vector<unsigned> sockets_total;                     // [listener]: over all workers
  std::vector<std::shared_ptr<net::ListenerStats>> stats;  // [listener]
  // This worker's share of [server] max_connections over all its listeners; UINT64_MAX = none.
  uint64_t connection_limit = UINT64_MAX;
};

// One worker thread running one libuv loop that owns its own listening sockets, connections,
// handler instances and buffers. Nothing it owns is touched by another thread: other threads
// talk to it only through post().
class Worker {
 public:
  // `state` receives the worker's heartbeat; it must outlive the worker. `on_exit` runs on the
  // worker thread after its loop has ended.
  Worker(int id, Assignment assignment, admin::WorkerState& state,
         std::function<void(Worker*)> on_exit);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread and waits until it listens on every socket. Returns 0, or the first
  // libuv error (the worker then stops by itself).
  int start();
  // Any thread. Runs `fn` on the worker's loop; false if the worker has already stopped.
  bool post(std::function<void()> fn);
  // Any thread. Serve `assignment` from now on: new listener objects take the sockets with the
  // new settings, the old ones stop accepting and keep their connections, with the settings
  // those started with, until they end. Sockets never close in between, so nothing queued in
  // them is lost. A listener whose handler configuration (the same HandlerConfig object) the
  // new configuration carries over keeps its listener objects, and so its handler instances.
  // `applied` runs on the worker thread once the worker serves the assignment, or at once on
  // the calling thread if the worker has stopped and never will.
  void reconfigure(Assignment assignment, std::function<void()> applied);
  // Any thread. Stop accepting; the loop ends once the open connections have closed.
  void drain();
  // Any thread. Close every open connection now (the end of a drain that ran out of time).
  void closeConnections();
  void join();

  int id() const { return id_; }

 private:
  void run();
  int apply(Assignment& assignment);
  // Runs the loop until no handle is left, polling without sleeping while busy_poll_ns_ says.
  void runLoop();
  void keepUnchanged(Assignment& assignment);
  void retireAll();
  void sweepRetired();
  void beginDrain();
  void checkDrained();
  void onHeartbeat();

  const int id_;
  Assignment initial_;
  admin::WorkerState& state_;
  std::function<void(Worker*)> on_exit_;
  std::promise<int> started_;
  std::thread thread_;

  // Loop-thread state, valid while run() runs.
  uv_loop_t loop_{};
  std::unique_ptr<core::LoopContext> ctx_;
  std::unique_ptr<core::Mailbox> mailbox_;
  // Stamps state_.heartbeat_ms every 250 ms: a loop stuck in a callback stops stamping, which
  // is what /healthz (and the systemd watchdog) look for. Unreferenced: it keeps no one alive.
  core::UvHandle<uv_timer_t> heartbeat_;
  std::vector<std::unique_ptr<net::TcpListener>> tcp_;
  std::vector<std::unique_ptr<net::UdpSocket>> udp_;
  // Listeners of earlier configurations: no longer accepting, serving their last connections.
  std::vector<std::unique_ptr<net::TcpListener>> retired_;
  // Since the last malloc_trim(): bytes the pools freed, the most connections open at once.
  uint64_t released_bytes_ = 0;
  uint64_t open_high_water_ = 0;
  uint64_t last_trim_ms_ = 0;
  bool draining_ = false;
  // [server] busy_poll, as set by the configuration last applied; 0 = block in epoll_wait.
  uint64_t busy_poll_ns_ = 0;
  bool uring_refusal_logged_ = false;
  bool finished_ = false;
};

}  // namespace portd::server
