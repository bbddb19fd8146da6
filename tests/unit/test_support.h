#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "config/loader.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"
#include "net/socket.h"

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

inline int nonBlockingClient(int type, const net::Address& to) {
  int fd = ::socket(AF_INET, type | SOCK_NONBLOCK, 0);
  ::connect(fd, to.sockaddr_ptr(), to.length());
  return fd;
}

}  // namespace portd::test
