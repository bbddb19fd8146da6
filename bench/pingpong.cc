// portd_pingpong: a ping-pong latency client that an echo server and `sockperf server` both
// answer, so that the two can be compared with the very same client.
//
// sockperf's own ping-pong client cannot measure an echo server: sockperf marks its requests
// with a "from a client" flag that its server clears in the reply, and its client drops every
// message that still carries the flag (meant for multicast loopback). An echo returns the
// request unchanged, so `sockperf ping-pong` against portd reports "No messages were received".
// This client sends sockperf's 14-byte header (sequence number, flags = client | pong request,
// total length), which makes sockperf's server answer, and accepts any reply of the right
// length that carries its sequence number.
//
// One request is in flight at a time. Prints one line of key=value pairs; exits 1 on any error.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// sockperf's MsgHeader, as it is on the wire: all fields big-endian, no padding.
constexpr size_t kHeaderSize = 14;
constexpr uint16_t kFlagClient = 1;
constexpr uint16_t kFlagPongRequest = 2;
// sockperf refuses messages larger than this (MAX_PAYLOAD_SIZE).
constexpr size_t kMaxMessage = 65506;

struct Options {
  std::string protocol = "tcp";
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  size_t size = 64;
  uint64_t count = 10000;
  uint64_t warmup = 1000;
  int timeout_ms = 2000;
};

void putBigEndian(char* at, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) {
    at[i] = static_cast<char>(value >> (8 * (bytes - 1 - i)));
  }
}

uint64_t getBigEndian(const char* at, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) {
    value = (value << 8) | static_cast<unsigned char>(at[i]);
  }
  return value;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "portd_pingpong: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void failErrno(const std::string& what) {
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    fail(what + ": no reply within the timeout");
  }
  fail(what + ": " + std::strerror(errno));
}

int connectTo(const Options& opt) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(opt.port);
  if (::inet_pton(AF_INET, opt.host.c_str(), &addr.sin_addr) != 1) {
    fail("not an IPv4 address: " + opt.host);
  }
  const bool tcp = opt.protocol == "tcp";
  int fd = ::socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    failErrno("socket");
  }
  // A server that stops answering makes the run fail instead of hang.
  timeval tv{opt.timeout_ms / 1000, (opt.timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (tcp) {
    // Every request is one small write; Nagle's algorithm would only add delay.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    failErrno("connect to " + opt.host + ":" + std::to_string(opt.port));
  }
  return fd;
}

// Sends one request and waits for its reply; exits on an error or on a reply that is not ours.
void roundTrip(int fd, bool tcp, std::string& request, std::vector<char>& reply, uint64_t seq) {
  putBigEndian(request.data(), seq, 8);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      failErrno("send");
    }
    sent += static_cast<size_t>(n);
  }
  size_t got = 0;
  while (got < request.size()) {
    ssize_t n = ::recv(fd, reply.data() + got, tcp ? request.size() - got : reply.size(), 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      failErrno("recv");
    }
    if (n == 0) {
      fail("the server closed the connection");
    }
    if (!tcp && static_cast<size_t>(n) != request.size()) {
      fail("reply of " + std::to_string(n) + " bytes to a request of " +
           std::to_string(request.size()));
    }
    got += static_cast<size_t>(n);
  }
  if (getBigEndian(reply.data(), 8) != seq) {
    fail("reply to request " + std::to_string(seq) + " carries sequence number " +
         std::to_string(getBigEndian(reply.data(), 8)));
  }
}

double percentile(const std::vector<int64_t>& sorted_ns, double p) {
  size_t index = static_cast<size_t>(p * static_cast<double>(sorted_ns.size() - 1) + 0.5);
  return static_cast<double>(sorted_ns[index]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"Ping-pong latency client for echo servers and sockperf servers"};
  app.add_option("--protocol", opt.protocol, "tcp or udp")->check(CLI::IsMember({"tcp", "udp"}));
  app.add_option("--host", opt.host, "Server IPv4 address");
  app.add_option("--port", opt.port, "Server port")->required();
  app.add_option("--size", opt.size, "Message size in bytes, header included")
      ->check(CLI::Range(kHeaderSize, kMaxMessage));
  app.add_option("--count", opt.count, "Timed requests")->check(CLI::PositiveNumber);
  app.add_option("--warmup", opt.warmup, "Untimed requests sent first");
  app.add_option("--timeout-ms", opt.timeout_ms, "Longest wait for one reply")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  const bool tcp = opt.protocol == "tcp";
  int fd = connectTo(opt);
  std::string request(opt.size, '\0');
  for (size_t i = kHeaderSize; i < request.size(); ++i) {
    request[i] = static_cast<char>('a' + i % 23);
  }
  putBigEndian(request.data() + 8, kFlagClient | kFlagPongRequest, 2);
  putBigEndian(request.data() + 10, opt.size, 4);
  // A UDP reply is read whole, so the buffer takes the largest datagram there is.
  std::vector<char> reply(tcp ? opt.size : 65536);

  uint64_t seq = 0;
  for (uint64_t i = 0; i < opt.warmup; ++i) {
    roundTrip(fd, tcp, request, reply, ++seq);
  }
  std::vector<int64_t> rtt_ns;
  rtt_ns.reserve(opt.count);
  const auto start = Clock::now();
  for (uint64_t i = 0; i < opt.count; ++i) {
    const auto t0 = Clock::now();
    roundTrip(fd, tcp, request, reply, ++seq);
    rtt_ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);

  std::sort(rtt_ns.begin(), rtt_ns.end());
  std::printf(
      "protocol=%s size=%zu requests=%llu warmup=%llu seconds=%.3f msgs_per_s=%.0f "
      "rtt_min_us=%.1f rtt_p50_us=%.1f rtt_p90_us=%.1f rtt_p99_us=%.1f rtt_max_us=%.1f\n",
      opt.protocol.c_str(), opt.size, static_cast<unsigned long long>(opt.count),
      static_cast<unsigned long long>(opt.warmup), seconds,
      static_cast<double>(opt.count) / seconds, percentile(rtt_ns, 0.0), percentile(rtt_ns, 0.5),
      percentile(rtt_ns, 0.9), percentile(rtt_ns, 0.99), percentile(rtt_ns, 1.0));
  return 0;
}
