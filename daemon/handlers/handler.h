#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/options.h"

namespace portd::core {
class LoopContext;
}

namespace portd::net {
class Connection;
struct ListenerStats;
class UdpSocket;
}  // namespace portd::net

namespace portd::handlers {

// Which transports a handler speaks; a bit set.
enum Protocols : unsigned { kTcp = 1u << 0, kUdp = 1u << 1 };

// One handler instance serves one listener on one worker. Every callback runs on that worker's
// loop thread, so an instance needs no locking; it must not block.
class Handler {
 public:
  virtual ~Handler() = default;

  // A TCP connection was accepted. `conn` stays valid until onClose() returns.
  virtual void onOpen(net::Connection& /*conn*/) {}
  // Bytes arrived. `data` is valid only during the call: copy what must be kept.
  virtual void onData(net::Connection& conn, std::string_view data) = 0;
  // The peer shut down its sending side. The default closes once queued output is sent.
  virtual void onPeerClosed(net::Connection& conn);
  // The connection is closing; no callback for it follows.
  virtual void onClose(net::Connection& /*conn*/) {}
  // The daemon is draining (SIGTERM): finish what is in progress and close when that is
  // natural, e.g. after the current HTTP response. The default leaves the connection to its
  // peer (raw TCP has no message boundary to close at).
  virtual void onDrain(net::Connection& /*conn*/) {}

  // A datagram arrived from `peer`. Reply with socket.reply(); `data` is valid only during the
  // call.
  virtual void onDatagram(net::UdpSocket& /*socket*/, const sockaddr* /*peer*/,
                          std::string_view /*data*/) {}
};

// Where an instance will run: its worker's loop, the listener it serves, and that listener's
// counters on this worker (which the instance may add to and register names in).
struct InstanceContext {
  core::LoopContext& loop;
  const std::string& listener;
  net::ListenerStats& stats;
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

struct HandlerDescriptor {
  std::string name;
  std::string description;
  unsigned protocols = 0;
  std::vector<OptionSpec> options;
};

// What a registry entry provides: a description with an option schema, and a way to turn
// validated options into a HandlerConfig.
class HandlerFactory {
 public:
  virtual ~HandlerFactory() = default;
  virtual const HandlerDescriptor& descriptor() const = 0;
  // Throws OptionError for a value the handler cannot accept.
  virtual std::shared_ptr<const HandlerConfig> configure(const Options& options) const = 0;
};

std::string protocolsToString(unsigned protocols);

}  // namespace portd::handlers
