#include "net_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace portd::itest {

namespace {

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on `fd`; false once `deadline` passed.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remainingMs(deadline));
    if (n > 0) {
      return true;
    }
    if (n == 0 && Clock::now() >= deadline) {
      return false;
    }
  }
}

}  // namespace

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  std::string host;
  std::string_view port;
  int family = AF_INET;
  if (text.starts_with('[')) {
    size_t close = text.find("]:");
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    family = AF_INET6;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  uint16_t port_number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size()) {
    return std::nullopt;
  }
  Endpoint e = loopback(family, port_number);
  void* where = family == AF_INET6
                    ? static_cast<void*>(&reinterpret_cast<sockaddr_in6*>(&e.addr_)->sin6_addr)
                    : static_cast<void*>(&reinterpret_cast<sockaddr_in*>(&e.addr_)->sin_addr);
  if (::inet_pton(family, host.c_str(), where) != 1) {
    return std::nullopt;
  }
  return e;
}

Endpoint Endpoint::loopback(int family, uint16_t port) {
  Endpoint e;
  if (family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&e.addr_);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_loopback;
    sin6->sin6_port = htons(port);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&e.addr_);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin->sin_port = htons(port);
  }
  return e;
}

Endpoint Endpoint::local(int fd) {
  Endpoint e;
  socklen_t len = sizeof e.addr_;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&e.addr_), &len) != 0) {
    return Endpoint();
  }
  return e;
}

uint16_t Endpoint::port() const {
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr_)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&addr_)->sin_port);
}

socklen_t Endpoint::length() const {
  return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

std::string Endpoint::toString() const {
  char host[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr_)->sin6_addr, host,
                sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(port());
  }
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr_)->sin_addr, host,
                sizeof host);
    return std::string(host) + ":" + std::to_string(port());
  }
  return "(none)";
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int Fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

bool hasIpv6Loopback() { return bindUdp(Endpoint::loopback(AF_INET6)).valid(); }

Fd connectTcp(const Endpoint& to, int* error) {
  Fd fd(::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int err = 0;
  if (!fd.valid()) {
    err = errno;
  } else if (::connect(fd.get(), to.get(), to.length()) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      // Non-blocking connect: the outcome is reported through SO_ERROR once it is writable.
      socklen_t len = sizeof err;
      if (!waitFor(fd.get(), POLLOUT, Clock::now() + kIoTimeout)) {
        err = ETIMEDOUT;
      } else if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
      }
    }
  }
  if (error != nullptr) {
    *error = err;
  }
  return err == 0 ? std::move(fd) : Fd();
}

Fd listenTcp(const Endpoint& local) {
  Fd fd(::socket(local.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.valid() &&
      (::bind(fd.get(), local.get(), local.length()) != 0 || ::listen(fd.get(), 16) != 0)) {
    fd.reset();
  }
  return fd;
}

bool waitUntilRefused(const Endpoint& to, Clock::duration timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    int error = 0;
    Fd probe = connectTcp(to, &error);
    if (!probe.valid() && error == ECONNREFUSED) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    // A short pause between attempts, so that a listener that is still open is not flooded.
    std::this_thread::sleep_for(5ms);
  }
}

::testing::AssertionResult sendAll(int fd, std::string_view data, Clock::duration timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  const size_t total = data.size();
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return ::testing::AssertionFailure() << "send failed after " << total - data.size() << " of "
                                           << total << " bytes: " << strerror(errno);
    }
    if (!waitFor(fd, POLLOUT, deadline)) {
      return ::testing::AssertionFailure()
             << "send timed out after " << total - data.size() << " of " << total << " bytes";
    }
  }
  return ::testing::AssertionSuccess();
}

std::string readExactly(int fd, size_t n, Clock::duration timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || !waitFor(fd, POLLIN, deadline)) {
      break;
    }
  }
  out.resize(got);
  return out;
}

::testing::AssertionResult echoRoundTrip(int fd, std::string_view message) {
  if (auto sent = sendAll(fd, message); !sent) {
    return sent;
  }
  std::string back = readExactly(fd, message.size());
  if (back == message) {
    return ::testing::AssertionSuccess();
  }
  auto failure = ::testing::AssertionFailure();
  failure << "sent " << message.size() << " bytes, got back " << back.size();
  auto [mine, theirs] = std::mismatch(message.begin(), message.end(), back.begin(), back.end());
  if (theirs != back.end()) {
    failure << "; they differ at byte " << (mine - message.begin());
  }
  if (message.size() <= 64) {
    failure << ": sent \"" << message << "\", got \"" << back << "\"";
  }
  return failure;
}

std::ostream& operator<<(std::ostream& os, PeerClose c) {
  switch (c) {
    case PeerClose::kEof:
      return os << "EOF";
    case PeerClose::kReset:
      return os << "connection reset";
    case PeerClose::kDataArrived:
      return os << "data arrived";
    case PeerClose::kStillOpen:
      return os << "still open";
    case PeerClose::kError:
      return os << "read error";
  }
  return os << "?";
}

bool waitReadable(int fd, Clock::duration timeout) {
  return waitFor(fd, POLLIN, Clock::now() + timeout);
}

PeerClose waitForClose(int fd, Clock::duration timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    char byte;
    ssize_t n = ::recv(fd, &byte, 1, 0);
    if (n > 0) {
      return PeerClose::kDataArrived;
    }
    if (n == 0) {
      return PeerClose::kEof;
    }
    if (errno == ECONNRESET) {
      return PeerClose::kReset;
    }
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return PeerClose::kError;
    }
    if (errno != EINTR && !waitFor(fd, POLLIN, deadline)) {
      return PeerClose::kStillOpen;
    }
  }
}

Fd bindUdp(const Endpoint& local) {
  Fd fd(::socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.valid() && ::bind(fd.get(), local.get(), local.length()) != 0) {
    fd.reset();
  }
  return fd;
}

::testing::AssertionResult sendDatagram(int fd, const Endpoint& to, std::string_view data) {
  ssize_t n = ::sendto(fd, data.data(), data.size(), 0, to.get(), to.length());
  if (n != static_cast<ssize_t>(data.size())) {
    return ::testing::AssertionFailure()
           << "sendto " << to << ": " << (n < 0 ? strerror(errno) : "short send");
  }
  return ::testing::AssertionSuccess();
}

std::optional<std::string> receiveDatagram(int fd, Clock::duration timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::string buf(65536, '\0');
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n >= 0) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return std::nullopt;
    }
    if (errno != EINTR && !waitFor(fd, POLLIN, deadline)) {
      return std::nullopt;
    }
  }
}

uint64_t udpDrops(uint16_t port) {
  uint64_t drops = 0;
  for (const char* table : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // "sl: local_address rem_address st ... drops", the local address as HEXADDR:HEXPORT.
      std::istringstream fields(line);
      std::string slot;
      std::string local;
      fields >> slot >> local;
      const size_t colon = local.rfind(':');
      if (colon == std::string::npos ||
          std::strtoul(local.c_str() + colon + 1, nullptr, 16) != port) {
        continue;
      }
      std::string last;
      for (std::string f; fields >> f;) {
        last = f;
      }
      drops += std::strtoull(last.c_str(), nullptr, 10);
    }
  }
  return drops;
}

uint16_t freePort(int type, int family) {
  Fd fd(::socket(family, type | SOCK_CLOEXEC, 0));
  Endpoint any = Endpoint::loopback(family);
  if (!fd.valid() || ::bind(fd.get(), any.get(), any.length()) != 0) {
    return 0;
  }
  return Endpoint::local(fd.get()).port();
}

uint16_t freeUdpAndTcpPort() {
  for (int i = 0; i < 100; ++i) {
    Fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const Endpoint any = Endpoint::loopback(AF_INET);
    if (!udp.valid() || ::bind(udp.get(), any.get(), any.length()) != 0) {
      continue;
    }
    const Endpoint bound = Endpoint::local(udp.get());
    Fd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (tcp.valid() && ::bind(tcp.get(), bound.get(), bound.length()) == 0) {
      return bound.port();
    }
  }
  return 0;
}

}  // namespace portd::itest
