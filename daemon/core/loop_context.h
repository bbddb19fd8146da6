#pragma once

#include <uv.h>

#include <cassert>
#include <memory>
#include <thread>
#include <vector>

#include "core/buffer_pool.h"
#include "core/handle_table.h"
#include "core/io_poller.h"
#include "core/timer_pool.h"

namespace portd::net {
class Connection;
class UdpSocket;
}  // namespace portd::net

namespace portd::core {

// Everything one loop owns that its listeners and connections share: the loop itself and the
// per-worker buffer pools. One per worker thread; never touched from another thread.
class LoopContext {
 public:
  // Read buffers are as large as libuv's suggestion, so one read drains a full socket buffer.
  static constexpr size_t kReadBlock = 64 * 1024;
  // Output that could not be written at once is queued in smaller blocks, so that a slow peer
  // holding a few bytes does not pin a whole read buffer.
  static constexpr size_t kWriteBlock = 16 * 1024;
  // recvmmsg: libuv uses 64 KiB per slot and at most 20 slots per call.
  static constexpr size_t kDatagramSlot = 64 * 1024;
  static constexpr size_t kDatagramSlots = 20;

  // Makes itself the calling thread's current context (see current()). A worker, which runs
  // its loop through poller().run(), asks for IoPoller::Mode::kDriving; anything that runs
  // the loop with uv_run() keeps the default.
  LoopContext(uv_loop_t* loop, int worker_id, IoPoller::Mode mode = IoPoller::Mode::kNested);
  ~LoopContext();
  LoopContext(const LoopContext&) = delete;
  LoopContext& operator=(const LoopContext&) = delete;

  // The context of the loop running on this thread. The plugin ABI names connections and
  // timers by id alone; this is where the ids are looked up.
  static LoopContext* current() { return current_; }

  uv_loop_t* loop() const { return loop_; }
  int workerId() const { return worker_id_; }
  BufferPool& readPool() { return read_pool_; }
  BufferPool& writePool() { return write_pool_; }
  // The recvmmsg buffer of this worker, allocated the first time a UDP socket asks for it.
  char* datagramBuffer();

  // Ids of this worker's open connections, datagram sockets and handler timers, for the
  // plugin ABI.
  HandleTable<net::Connection>& connections() { return connections_; }
  HandleTable<net::UdpSocket>& datagramSockets() { return datagram_sockets_; }
  TimerPool& timers() { return timers_; }

  // Open connections over every listener of this loop, and how many it may hold (its share of
  // [server] max_connections; UINT64_MAX = no limit). Listeners count in and out.
  uint64_t openConnections() const { return open_connections_; }
  uint64_t connectionLimit() const { return connection_limit_; }
  void setConnectionLimit(uint64_t limit) { connection_limit_ = limit; }
  void connectionOpened() { ++open_connections_; }
  void connectionClosed() { --open_connections_; }

  // The epoll set of this loop's sockets (connections, listeners, datagram sockets).
  IoPoller& poller() { return poller_; }

  bool onLoopThread() const { return std::this_thread::get_id() == thread_; }

 private:
  uv_loop_t* loop_;
  int worker_id_;
  std::thread::id thread_;
  BufferPool read_pool_;
  BufferPool write_pool_;
  std::unique_ptr<char[]> datagram_buffer_;
  HandleTable<net::Connection> connections_;
  HandleTable<net::UdpSocket> datagram_sockets_;
  TimerPool timers_;
  uint64_t open_connections_ = 0;
  uint64_t connection_limit_ = UINT64_MAX;
  // Last: destroyed first, it frees the objects whose release it still holds back (deferred),
  // and they give their buffers back to the pools above.
  IoPoller poller_;

  static thread_local LoopContext* current_;
};

}  // namespace portd::core

// Loop-bound methods check that they run on their loop (debug builds only).
#define PORTD_ASSERT_LOOP_THREAD(ctx) assert((ctx).onLoopThread())
