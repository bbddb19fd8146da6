// portd_flood: TCP connections that send as fast as the kernel takes their bytes, each from a
// thread of its own, for a while; the peers that keep a server's sockets full in
// flood_fairness.sh. The bytes are filler for a discard listener, or with --stream the stream
// handler's framed messages (docs/stream.md) for a sink, which costs the server far more per
// byte than sending them costs the client. Prints one line of key=value pairs (bytes sent,
// rate); exits 1 on any error.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  unsigned connections = 2;
  double seconds = 5;
  size_t chunk = 1 << 20;
  size_t stream = 0;  // message size for a stream sink, 0 for plain filler
};

// Fills `out` with stream messages of `size` bytes (header included), each after its 4-byte
// length, numbered from 0; what is left at the end is cut off, so a chunk ends on a message.
void fillStream(std::string& out, size_t size) {
  const size_t frame = 4 + size;
  out.assign(out.size() / frame * frame, '\0');
  uint64_t seq = 0;
  for (size_t at = 0; at < out.size(); at += frame, ++seq) {
    auto* p = reinterpret_cast<unsigned char*>(out.data() + at);
    for (int i = 0; i < 4; ++i) {
      p[i] = static_cast<unsigned char>(size >> (24 - 8 * i));
    }
    std::memcpy(p + 4, "PDST\x01", 5);  // magic, version 1, flags 0: no echo
    for (int i = 0; i < 8; ++i) {
      p[12 + i] = static_cast<unsigned char>(seq >> (56 - 8 * i));
    }
  }
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "portd_flood: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

int connectTo(const Options& opt) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(opt.port);
  if (::inet_pton(AF_INET, opt.host.c_str(), &addr.sin_addr) != 1) {
    errno = EINVAL;
    fail("bad --host " + opt.host);
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    fail("connect");
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"TCP connections that send as fast as they can (for a discard listener)"};
  app.add_option("--host", opt.host, "Server IPv4 address");
  app.add_option("--port", opt.port, "Server port")->required();
  app.add_option("-c,--connections", opt.connections, "Connections, a thread each")
      ->check(CLI::Range(1, 64));
  app.add_option("-d,--seconds", opt.seconds, "How long to send")->check(CLI::PositiveNumber);
  app.add_option("--chunk", opt.chunk, "Bytes per send()")->check(CLI::Range(1, 16 << 20));
  app.add_option("--stream", opt.stream, "Send the stream handler's messages of this size")
      ->check(CLI::Range(24, 65536));
  CLI11_PARSE(app, argc, argv);

  std::vector<int> fds;
  for (unsigned i = 0; i < opt.connections; ++i) {
    fds.push_back(connectTo(opt));
  }
  std::string chunk(opt.chunk, 'f');
  if (opt.stream != 0) {
    fillStream(chunk, opt.stream);
    if (chunk.empty()) {
      errno = EINVAL;
      fail("--chunk holds no whole message");
    }
  }
  std::atomic<uint64_t> sent{0};
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(opt.seconds));
  std::vector<std::thread> threads;
  for (int fd : fds) {
    threads.emplace_back([&, fd] {
      uint64_t mine = 0;
      while (Clock::now() < end) {
        const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
        if (n < 0) {
          fail("send");
        }
        mine += static_cast<uint64_t>(n);
      }
      sent += mine;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (int fd : fds) {
    ::close(fd);
  }
  std::printf("connections=%u seconds=%.3f bytes=%llu gbit_per_s=%.2f\n", opt.connections, seconds,
              static_cast<unsigned long long>(sent.load()),
              static_cast<double>(sent.load()) * 8 / seconds / 1e9);
  return 0;
}
