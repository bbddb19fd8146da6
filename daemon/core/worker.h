#pragma once

#include <uv.h>

#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/loop_context.h"
#include "core/mailbox.h"
#include "core/server_state.h"
#include "core/uv_handle.h"

namespace portd::net {
class TcpListener;
class UdpSocket;
}  // namespace portd::net

namespace portd::core {

// One worker thread running one libuv loop that owns its own listening sockets, connections,
// handler instances and buffers. Nothing it owns is touched by another thread: other threads
// talk to it only through post().
class Worker {
 public:
  // `fds` holds one bound socket per listener of `config`, in order; the worker owns them.
  // `on_exit` runs on the worker thread after its loop has ended.
  // `state` receives the worker's counters and heartbeat; it must outlive the worker.
  Worker(int id, unsigned worker_count, std::shared_ptr<const config::Config> config,
         std::vector<int> fds, WorkerState& state, std::function<void(int id)> on_exit);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread and waits until it listens on every socket. Returns 0, or the first
  // libuv error (the worker then stops by itself).
  int start();
  // Any thread. Runs `fn` on the worker's loop; false if the worker has already stopped.
  bool post(std::function<void()> fn);
  // Any thread. Stop accepting; the loop ends once the open connections have closed.
  void drain();
  // Any thread. Close every open connection now (the end of a drain that ran out of time).
  void closeConnections();
  void join();

  int id() const { return id_; }

 private:
  void run();
  int openListeners();
  void beginDrain();
  void checkDrained();

  const int id_;
  const unsigned worker_count_;
  std::shared_ptr<const config::Config> config_;
  std::vector<int> fds_;
  WorkerState& state_;
  std::function<void(int)> on_exit_;
  std::promise<int> started_;
  std::thread thread_;

  // Loop-thread state, valid while run() runs.
  uv_loop_t loop_{};
  std::unique_ptr<LoopContext> ctx_;
  std::unique_ptr<Mailbox> mailbox_;
  // Stamps state_.heartbeat_ms every 250 ms: a loop stuck in a callback stops stamping, which
  // is what /healthz (and the systemd watchdog) look for. Unreferenced: it keeps no one alive.
  UvHandle<uv_timer_t> heartbeat_;
  std::vector<std::unique_ptr<net::TcpListener>> tcp_;
  std::vector<std::unique_ptr<net::UdpSocket>> udp_;
  bool draining_ = false;
  bool finished_ = false;
};

}  // namespace portd::core
