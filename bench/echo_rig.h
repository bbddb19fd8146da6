#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/loop_context.h"
#include "net/tcp_listener.h"
#include "net/udp_socket.h"

namespace portd::bench {

// A libuv loop and its LoopContext, run by the benchmark thread itself: the server side of an
// exchange runs in uv_run(UV_RUN_NOWAIT) turns between the client's system calls, so one
// iteration is the whole read -> handler -> write path with no thread hand-off in it.
//
// close() applies the rule of the unit tests' loop fixture (and of libuv's own tests): every
// handle must be closed and uv_loop_close() must succeed, or the benchmark is reported failed.
class LoopRig {
 public:
  LoopRig();
  ~LoopRig();
  LoopRig(const LoopRig&) = delete;
  LoopRig& operator=(const LoopRig&) = delete;

  uv_loop_t* loop() { return &loop_; }
  core::LoopContext& context() { return *ctx_; }

  // One non-blocking turn of the loop.
  void turn() { uv_run(&loop_, UV_RUN_NOWAIT); }

  // Finishes pending closes, closes (and names) any handle left open, and closes the loop.
  // Returns an empty string, or what was wrong. Call it after the objects that own handles
  // have been destroyed.
  std::string close();

 private:
  uv_loop_t loop_{};
  bool closed_ = false;
  // Outlives every handle: connections give their blocks back to its pools as they close.
  std::optional<core::LoopContext> ctx_;
};

// Block-allocation counts of the rig's pools and of the whole heap at one moment; the
// difference of two snapshots is what a stretch of iterations allocated.
struct AllocationSnapshot {
  uint64_t read_pool = 0;
  uint64_t write_pool = 0;
  uint64_t heap = 0;

  static AllocationSnapshot take(core::LoopContext& ctx);
};

// `size` bytes that differ from one position to the next, so that an echo which reorders or
// repeats data does not compare equal by accident.
std::string patterned(size_t size);

// The configuration text of one echo listener on 127.0.0.1 port 0, loaded by the real loader
// with the built-in handlers registered.
std::shared_ptr<const config::Config> echoConfig(std::string_view protocol);

// A TCP echo listener on the rig's loop and one connected client socket. The client is
// non-blocking, so that one thread can play both sides.
class TcpEchoPair {
 public:
  // `client_receive_buffer`, when not 0, fixes the client's SO_RCVBUF: a small one makes the
  // client a slow reader whatever the machine's autotuning limits are.
  explicit TcpEchoPair(LoopRig& rig, int client_receive_buffer = 0);
  ~TcpEchoPair();
  TcpEchoPair(const TcpEchoPair&) = delete;
  TcpEchoPair& operator=(const TcpEchoPair&) = delete;

  // Empty once the listener listens and the connection is accepted; otherwise why not.
  const std::string& error() const { return error_; }

  // The client sends `request` and the loop turns until all of it has come back (sending and
  // reading interleave, so a request larger than the socket buffers works too). With
  // `verify`, the echo is compared with the request. On failure, error() says why.
  bool exchange(std::string_view request, bool verify = false);

  net::TcpListener& listener() { return *listener_; }

 private:
  LoopRig& rig_;
  std::string error_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<net::TcpListener> listener_;
  int client_ = -1;
  std::vector<char> scratch_;
};

// A UDP echo socket on the rig's loop and one connected client socket.
class UdpEchoPair {
 public:
  explicit UdpEchoPair(LoopRig& rig);
  ~UdpEchoPair();
  UdpEchoPair(const UdpEchoPair&) = delete;
  UdpEchoPair& operator=(const UdpEchoPair&) = delete;

  const std::string& error() const { return error_; }

  // The client sends `count` datagrams of `size` bytes in one sendmmsg() and the loop turns
  // until all `count` echoes are back. Sending them together lets the server's recvmmsg() see
  // them as one batch, which is the case batching is for.
  bool exchange(size_t size, size_t count, bool verify = false);

  net::UdpSocket& socket() { return *socket_; }

 private:
  static constexpr size_t kMaxBatch = 64;

  LoopRig& rig_;
  std::string error_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<net::UdpSocket> socket_;
  int client_ = -1;
  std::string payload_;
  std::vector<char> scratch_;
};

// How long an exchange may make no progress before it is declared failed: long enough for a
// loaded 2-vCPU VM, short enough that a broken build fails instead of hanging.
inline constexpr uint64_t kStallTimeoutMs = 5000;

}  // namespace portd::bench
