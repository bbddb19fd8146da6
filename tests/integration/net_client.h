#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "child_process.h"

// Client-side socket helpers for the integration tests. Every socket is non-blocking and every
// wait has a deadline, so a daemon that misbehaves fails a test instead of hanging it.
namespace portd::itest {

using namespace std::chrono_literals;

// How long to wait for something that should happen. Only reached when a test is failing,
// so it is generous enough for a loaded CI machine.
constexpr Clock::duration kIoTimeout = 5s;

// How much earlier than its delay a daemon timer may fire, measured by this process's clock:
// libuv reads its loop clock once per turn of the loop, in whole milliseconds, and may read a
// coarse clock that lags by a tick of up to a millisecond. A test that checks that a timeout
// did not fire early measures from before the event that starts it (so that a late test thread
// only makes the measured time longer) and allows this much.
constexpr Clock::duration kLoopClockSlack = 2ms;

// An IPv4 or IPv6 socket address.
class Endpoint {
 public:
  Endpoint() = default;
  // "127.0.0.1:7000" or "[::1]:7000", as the daemon logs them.
  static std::optional<Endpoint> parse(std::string_view text);
  static Endpoint loopback(int family, uint16_t port = 0);
  // Where `fd` is bound.
  static Endpoint local(int fd);

  int family() const { return addr_.ss_family; }
  uint16_t port() const;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&addr_); }
  socklen_t length() const;
  std::string toString() const;

 private:
  sockaddr_storage addr_{};
};

inline std::ostream& operator<<(std::ostream& os, const Endpoint& e) { return os << e.toString(); }

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset();

 private:
  int fd_ = -1;
};

// Whether ::1 can be bound here; some containers run without IPv6.
bool hasIpv6Loopback();

// "127.0.0.1:0" or "[::1]:0", for a configuration.
inline const char* loopbackAnyPort(int family) {
  return family == AF_INET6 ? "[::1]:0" : "127.0.0.1:0";
}

// A TCP socket listening on `local`, without SO_REUSEADDR or SO_REUSEPORT, so that nobody
// else can bind the same port while it is open.
Fd listenTcp(const Endpoint& local);

// Connects a TCP socket. On failure the Fd is invalid and *error (if given) holds the errno
// value, e.g. ECONNREFUSED.
Fd connectTcp(const Endpoint& to, int* error = nullptr);

// Connects, retrying until the connection is refused, which shows that nothing listens on `to`
// any more. False if connections still succeed after `timeout`.
bool waitUntilRefused(const Endpoint& to, Clock::duration timeout = kIoTimeout);

::testing::AssertionResult sendAll(int fd, std::string_view data,
                                   Clock::duration timeout = kIoTimeout);

// Reads until `n` bytes arrived, the peer closed, an error occurred, or `timeout` passed;
// returns what arrived.
std::string readExactly(int fd, size_t n, Clock::duration timeout = kIoTimeout);

// Sends `message` and expects it back byte for byte.
::testing::AssertionResult echoRoundTrip(int fd, std::string_view message);

// Waits until `fd` has something to read (or its peer closed); false after `timeout`. Reads
// nothing.
bool waitReadable(int fd, Clock::duration timeout = kIoTimeout);

// How a wait for the peer to close a TCP connection ended.
enum class PeerClose { kEof, kReset, kDataArrived, kStillOpen, kError };
std::ostream& operator<<(std::ostream& os, PeerClose c);

PeerClose waitForClose(int fd, Clock::duration timeout = kIoTimeout);

// A UDP socket bound to `local` (port 0 picks a free port).
Fd bindUdp(const Endpoint& local);

::testing::AssertionResult sendDatagram(int fd, const Endpoint& to, std::string_view data);

// The next datagram, or nothing if none arrived within `timeout`.
std::optional<std::string> receiveDatagram(int fd, Clock::duration timeout = kIoTimeout);

// The datagrams the kernel dropped, for want of room in a receive buffer, on the UDP sockets
// bound to local `port` (IPv4 and IPv6; a listener has one per worker): the `drops` column of
// /proc/net/udp. A stalled receiver loses datagrams there before it can count them.
uint64_t udpDrops(uint16_t port);

// A port that was free a moment ago: bound, read back, and released.
uint16_t freePort(int type, int family);

// A port of 127.0.0.1 that UDP and TCP both had free a moment ago, for a server that binds both
// (DNS): ports from the ephemeral range, where port 0 picks, are often taken by TCP clients.
uint16_t freeUdpAndTcpPort();

}  // namespace portd::itest
