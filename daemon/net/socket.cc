#include "net/socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portd::net {

int openBoundSocket(Transport transport, const Address& addr, std::string* error) {
  return openBoundSocket(transport, addr, Sharing::kReusePort, error);
}

int openBoundSocket(Transport transport, const Address& addr, Sharing sharing, std::string* error) {
  int type =
      (transport == Transport::kTcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  int fd = ::socket(addr.family(), type, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  auto fail = [&](const char* what) {
    *error = std::string(what) + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  };
  int one = 1;
  // SO_REUSEADDR lets a restarted daemon bind while old connections sit in TIME_WAIT.
  if (transport == Transport::kTcp &&
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return fail("setsockopt(SO_REUSEADDR)");
  }
  if (sharing == Sharing::kReusePort &&
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return fail("setsockopt(SO_REUSEPORT)");
  }
  // "[::]:7000" means IPv6 only; IPv4 is a listener of its own. This keeps the meaning of an
  // address independent of the net.ipv6.bindv6only sysctl.
  if (addr.family() == AF_INET6 &&
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
    return fail("setsockopt(IPV6_V6ONLY)");
  }
  if (::bind(fd, addr.sockaddr_ptr(), addr.length()) != 0) {
    return fail(("bind " + addr.toString()).c_str());
  }
  return fd;
}

void setNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) {
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  }
}

Address localAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Address{};
  }
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss));
}

}  // namespace portd::net
