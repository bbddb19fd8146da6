#include "net/listen_tuning.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace portd::net {

namespace {

bool getInt(int fd, int option, uint32_t* out, std::string* error, const char* name) {
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd, IPPROTO_TCP, option, &value, &len) != 0) {
    *error = std::string(name) + ": " + std::strerror(errno);
    return false;
  }
  *out = value < 0 ? 0 : static_cast<uint32_t>(value);
  return true;
}

bool setInt(int fd, int option, uint32_t value, std::string* error, const char* name) {
  int v = value > INT_MAX ? INT_MAX : static_cast<int>(value);
  if (::setsockopt(fd, IPPROTO_TCP, option, &v, sizeof v) != 0) {
    *error = std::string(name) + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

std::optional<ListenQueue> readListenQueue(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || info.tcpi_state != TCP_LISTEN) {
    return std::nullopt;
  }
  // On a listening socket the kernel reports the accept queue in these two fields
  // (tcp_get_info(): "tcpi_unacked = sk_ack_backlog, tcpi_sacked = sk_max_ack_backlog").
  return ListenQueue{info.tcpi_unacked, info.tcpi_sacked};
}

bool readTuning(int fd, SocketTuning* out, std::string* error) {
  std::optional<ListenQueue> q = readListenQueue(fd);
  if (!q) {
    *error = "TCP_INFO: not a listening TCP socket";
    return false;
  }
  out->backlog = q->limit;
  return getInt(fd, TCP_DEFER_ACCEPT, &out->defer_accept, error, "defer_accept") &&
         getInt(fd, TCP_FASTOPEN, &out->fastopen, error, "fastopen");
}

bool applyTuning(int fd, const SocketTuning& want, std::string* error) {
  int backlog = want.backlog > INT_MAX ? INT_MAX : static_cast<int>(want.backlog);
  if (::listen(fd, backlog) != 0) {
    *error = std::string("backlog: listen: ") + std::strerror(errno);
    return false;
  }
  return setInt(fd, TCP_DEFER_ACCEPT, want.defer_accept, error, "defer_accept") &&
         setInt(fd, TCP_FASTOPEN, want.fastopen, error, "fastopen");
}

}  // namespace portd::net
