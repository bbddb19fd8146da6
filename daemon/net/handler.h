#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <string_view>

namespace portd::core {
class LoopContext;
}

namespace portd::net {

class Connection;
struct ListenerStats;
class UdpSocket;

// What a listener hands its bytes to. The net layer defines it, so that listeners and
// connections need nothing above them; handlers/ implements it (the C ABI adapter, http).
//
// One instance serves one listener on one worker. Every callback runs on that worker's loop
// thread, so an instance needs no locking; it must not block.
class Handler {
 public:
  virtual ~Handler() = default;

  // A TCP connection was accepted. `conn` stays valid until onClose() returns.
  virtual void onOpen(Connection& /*conn*/) {}
  // Bytes arrived. `data` is valid only during the call: copy what must be kept. Never called
  // while reading is paused (Connection::pauseReading, or backpressure).
  virtual void onData(Connection& conn, std::string_view data) = 0;
  // The peer shut down its sending side. The default closes once queued output is sent.
  virtual void onPeerClosed(Connection& conn);
  // Queued output fell to the low-water mark (half of write_buffer_limit) after having passed
  // the limit: reading has resumed, and the handler may produce more.
  virtual void onWritable(Connection& /*conn*/) {}
  // The connection is closing; no callback for it follows.
  virtual void onClose(Connection& /*conn*/) {}
  // The daemon is draining (SIGTERM): finish what is in progress and close when that is
  // natural, e.g. after the current HTTP response. The default leaves the connection to its
  // peer (raw TCP has no message boundary to close at).
  virtual void onDrain(Connection& /*conn*/) {}

  // A datagram arrived from `peer`. Reply with socket.reply(); `data` is valid only during the
  // call.
  virtual void onDatagram(UdpSocket& /*socket*/, const sockaddr* /*peer*/,
                          std::string_view /*data*/) {}
};

// Where an instance will run: its worker's loop, the listener it serves, and that listener's
// counters on this worker (which the instance may add to and register names in).
struct InstanceContext {
  core::LoopContext& loop;
  const std::string& listener;
  ListenerStats& stats;
};

// The configuration of one listener's handler, checked once when the file is loaded. Immutable
// and shared by every worker.
class HandlerConfig {
 public:
  virtual ~HandlerConfig() = default;
  // Called on each worker's own thread. Throws std::runtime_error when no instance can be made;
  // the worker then fails to start.
  virtual std::unique_ptr<Handler> createInstance(const InstanceContext& where) const = 0;
};

}  // namespace portd::net
