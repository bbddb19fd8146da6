#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "config/loader.h"
#include "core/loop_context.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"
#include "net/socket.h"
#include "net/tcp_listener.h"

namespace portd::test {

// A one-listener configuration built by the real loader.
inline std::shared_ptr<const config::Config> oneListener(const std::string& protocol,
                                                         const std::string& handler,
                                                         const std::string& extra = "") {
  static handlers::Registry registry = [] {
    handlers::Registry r;
    handlers::registerBuiltins(r);
    return r;
  }();
  std::string text = "[[listener]]\nname = \"t\"\nprotocol = \"" + protocol +
                     "\"\naddress = \"127.0.0.1:0\"\nhandler = \"" + handler + "\"\n" + extra;
  return handlers::loadAndBind(text, "test", registry);
}

inline int boundSocket(const config::ListenerConfig& l, net::Address* bound) {
  std::string error;
  int fd = net::openBoundSocket(l.protocol, l.address, &error);
  *bound = net::localAddress(fd);
  return fd;
}

// A TcpListener on `ctx` serving the configuration's first listener on a socket of its own,
// listening; its address in *bound. Null if listen() failed.
inline std::unique_ptr<net::TcpListener> listening(core::LoopContext& ctx,
                                                   const std::shared_ptr<const config::Config>& cfg,
                                                   net::Address* bound) {
  const int fd = boundSocket(cfg->listeners[0], bound);
  auto listener = std::make_unique<net::TcpListener>(ctx, cfg->listeners[0].settings(1),
                                                     config::sharedHandler(cfg, 0));
  return listener->listen(fd) == 0 ? std::move(listener) : nullptr;
}

inline int nonBlockingClient(int type, const net::Address& to) {
  int fd = ::socket(AF_INET, type | SOCK_NONBLOCK, 0);
  ::connect(fd, to.sockaddr_ptr(), to.length());
  return fd;
}

}  // namespace portd::test
