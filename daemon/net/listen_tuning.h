#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace portd::net {

// The handshake settings of a listening TCP socket, as nginx's `listen` has them. They belong
// to the socket, not to whoever serves it: every dup of the descriptor shares them, so they
// are applied once, where the socket is made (server::SocketSet), and a reload that keeps the
// socket changes them in place.
struct SocketTuning {
  // listen()'s backlog: connections the kernel completes and queues until one is accepted. The
  // kernel caps it at net.core.somaxconn.
  uint32_t backlog = 511;
  // TCP_DEFER_ACCEPT, in seconds: a connection is queued only once its first data arrive (or
  // the time has passed); 0 = off.
  uint32_t defer_accept = 0;
  // TCP_FASTOPEN: how many connections may wait in the Fast Open queue (data accepted with
  // the SYN before the handshake ends); 0 = off. The kernel caps it at net.core.somaxconn and
  // serves Fast Open only if net.ipv4.tcp_fastopen has bit 2 set.
  uint32_t fastopen = 0;

  bool operator==(const SocketTuning&) const = default;
};

// What a listener's configuration says of those settings: each one it leaves out keeps the
// socket's own (portd's default for a socket it binds, the .socket unit's for one systemd
// passed).
struct ListenTuning {
  std::optional<uint32_t> backlog;
  std::optional<uint32_t> defer_accept;
  std::optional<uint32_t> fastopen;

  SocketTuning over(const SocketTuning& base) const {
    return {backlog.value_or(base.backlog), defer_accept.value_or(base.defer_accept),
            fastopen.value_or(base.fastopen)};
  }
  bool operator==(const ListenTuning&) const = default;
};

// Reads a listening socket's settings back: the backlog from TCP_INFO (already capped by the
// kernel), the others with getsockopt(); TCP_DEFER_ACCEPT reads back rounded up to the kernel's
// retransmission schedule (1, 3, 7, 15... seconds). False with `error` set on failure.
bool readTuning(int fd, SocketTuning* out, std::string* error);

// Sets `want` on a listening socket: listen() again (which on Linux changes only the backlog
// of a socket that listens already), TCP_DEFER_ACCEPT and TCP_FASTOPEN. False with `error`
// naming the setting on failure.
bool applyTuning(int fd, const SocketTuning& want, std::string* error);

// A listening socket's accept queue, from TCP_INFO: connections completed and waiting to be
// accepted (tcpi_unacked) and the limit (tcpi_sacked, the backlog as the kernel applies it);
// the kernel accepts one more than the limit before it drops handshakes.
struct ListenQueue {
  uint32_t length = 0;
  uint32_t limit = 0;
};
std::optional<ListenQueue> readListenQueue(int fd);

}  // namespace portd::net
