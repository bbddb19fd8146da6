#include "probe/probe.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/address.h"

namespace portd::probe {

namespace {

using Clock = std::chrono::steady_clock;

// Closes the socket on every way out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

// Waits for `events` on fd until the deadline; false on timeout or error.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) {
      return true;
    }
    if (n < 0 && errno != EINTR) {
      return false;
    }
  }
}

}  // namespace

int run(const std::string& url, std::chrono::milliseconds timeout, std::string* report) {
  constexpr std::string_view kScheme = "http://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) {
    *report = fmt::format("{}: only http:// URLs are supported", url);
    return 1;
  }
  std::string rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string error;
  auto addr = net::Address::parse(authority, &error);
  if (!addr) {
    *report =
        fmt::format("{}: {} (give a literal address and port, such as 127.0.0.1:9090)", url, error);
    return 1;
  }
  Clock::time_point deadline = Clock::now() + timeout;
  Fd s;
  s.fd = ::socket(addr->sockaddr_ptr()->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) {
    *report = fmt::format("{}: socket: {}", url, std::strerror(errno));
    return 1;
  }
  if (::connect(s.fd, addr->sockaddr_ptr(), addr->length()) != 0 && errno != EINPROGRESS) {
    *report = fmt::format("{}: connect: {}", url, std::strerror(errno));
    return 1;
  }
  if (!waitFor(s.fd, POLLOUT, deadline)) {
    *report = fmt::format("{}: no connection within {} ms", url, timeout.count());
    return 1;
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) {
    *report = fmt::format("{}: connect: {}", url, std::strerror(so_error));
    return 1;
  }
  std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: portd-probe\r\nConnection: close\r\n\r\n", path,
      authority);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      *report = fmt::format("{}: send: {}", url, std::strerror(errno));
      return 1;
    } else if (!waitFor(s.fd, POLLOUT, deadline)) {
      *report = fmt::format("{}: timed out sending", url);
      return 1;
    }
  }
  // Only the status line matters: "HTTP/1.1 200 OK\r\n".
  std::string head;
  while (head.find("\r\n") == std::string::npos && head.size() < 1024) {
    if (!waitFor(s.fd, POLLIN, deadline)) {
      *report = fmt::format("{}: no response within {} ms", url, timeout.count());
      return 1;
    }
    char buf[512];
    ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      *report = fmt::format("{}: recv: {}", url, std::strerror(errno));
      return 1;
    }
    head.append(buf, static_cast<size_t>(n));
  }
  std::string line = head.substr(0, head.find("\r\n"));
  int status = 0;
  if (line.compare(0, 5, "HTTP/") != 0 || line.size() < 12 ||
      std::sscanf(line.c_str() + 9, "%3d", &status) != 1) {
    *report = fmt::format("{}: not an HTTP response", url);
    return 1;
  }
  *report = fmt::format("{}: {}", url, line);
  return status >= 200 && status < 300 ? 0 : 1;
}

}  // namespace portd::probe
