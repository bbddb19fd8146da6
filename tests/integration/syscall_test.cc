// System calls the daemon makes per connection and per datagram, counted by strace attached
// to the running daemon: what the hot path costs the kernel is part of its design (one
// accept4 per connection, one recvmmsg per datagram in flight, TCP_NODELAY inherited from the
// listening socket), and a regression there is as real as a wrong answer. Counts, not times:
// strace slows every call down but does not change which calls are made.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "child_process.h"
#include "daemon_process.h"
#include "external_server.h"
#include "net_client.h"

namespace portd::itest {
namespace {

bool attached(ChildProcess& strace) {
  return strace.waitForStderr(
      [](std::string_view err) { return err.find(" attached") != std::string_view::npos; }, 10s);
}

// strace -c attached to every thread of a process, counting the calls named in `calls`.
class SyscallCounter {
 public:
  SyscallCounter(pid_t pid, const std::string& calls)
      : out_(dir_.path() + "/counts"),
        child_(ChildProcess::Spec{
            findProgram("strace"),
            {"-f", "-c", "-e", "trace=" + calls, "-o", out_, "-p", std::to_string(pid)},
            {},
            {},
            {},
            {}}) {}

  // strace says "Process N attached with M threads" once it has taken every thread.
  bool waitAttached() { return attached(child_); }

  // Detaches and reads the summary: calls per system call name.
  std::map<std::string, uint64_t> finish() {
    child_.signal(SIGINT);
    ExitStatus st = child_.wait(10s);
    EXPECT_FALSE(st.isRunning()) << child_.stderrText();
    std::map<std::string, uint64_t> calls;
    std::ifstream in(out_);
    std::string line;
    // "% time     seconds  usecs/call     calls    errors syscall": the count is the fourth
    // column, the name the last; the errors column is empty when there were none.
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::vector<std::string> w;
      for (std::string x; words >> x;) {
        w.push_back(x);
      }
      if (w.size() >= 5 && std::isdigit(static_cast<unsigned char>(w[0][0])) &&
          w.back() != "total") {
        calls[w.back()] = std::stoull(w[3]);
      }
    }
    return calls;
  }

 private:
  TempDir dir_;
  std::string out_;
  ChildProcess child_;
};

std::string config(const char* protocol) {
  return std::string(R"toml(
[server]
workers = 1
shutdown_timeout = "5s"

[[listener]]
name = "echo"
protocol = ")toml") +
         protocol + R"toml("
handler = "echo"
address = "127.0.0.1:0"
)toml";
}

// True once every thread of `pid` sleeps in the kernel (state S): the worker has answered and
// is back in epoll_wait, so whatever it would read next it reads only on the next readiness.
bool allThreadsAsleep(pid_t pid) {
  for (auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream in(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'S') {
      return false;
    }
  }
  return true;
}

bool waitAllThreadsAsleep(pid_t pid) {
  const auto deadline = Clock::now() + 10s;
  while (!allThreadsAsleep(pid)) {
    if (Clock::now() > deadline) {
      return false;
    }
    std::this_thread::yield();
  }
  return true;
}

TEST(SyscallTest, OneAcceptPerConnection) {
  Daemon d;
  ASSERT_TRUE(d.start(config("tcp")));
  const Endpoint echo = d.listener("echo");
  SyscallCounter strace(d.pid(), "accept4,ioctl,setsockopt,epoll_ctl");
  ASSERT_TRUE(strace.waitAttached());
  constexpr int kConnections = 50;
  for (int i = 0; i < kConnections; ++i) {
    Fd c = connectTcp(echo);
    ASSERT_TRUE(c.valid());
    // An answer shows that the daemon accepted it before the next one arrives, so each
    // connection has its own readiness: the case where accepting until EAGAIN costs a second
    // accept4.
    ASSERT_TRUE(echoRoundTrip(c.get(), "ping"));
  }
  auto calls = strace.finish();
  // Accepting until EAGAIN would make it twice as many; a margin of two for the calls strace
  // sees as it attaches.
  EXPECT_NEAR(static_cast<double>(calls["accept4"]), kConnections, 2);
  // TCP_NODELAY comes from the listening socket: no setsockopt per connection.
  EXPECT_EQ(calls["setsockopt"], 0u);
  // accept4 made the socket non-blocking: no ioctl(FIONBIO) again (libuv's uv_tcp_open made
  // one per connection).
  EXPECT_EQ(calls["ioctl"], 0u);
  // One epoll_ctl per connection, its registration: none to add EPOLLOUT (the answers fit) and
  // none to remove it before close (libuv made an EPOLL_CTL_DEL per connection).
  EXPECT_LE(calls["epoll_ctl"], static_cast<uint64_t>(kConnections) + 2);
  EXPECT_TRUE(d.stop());
}

// A request per connection ("Connection: close"), as ab or wrk -H "Connection: close" make
// them: with defer_accept the kernel queues a connection once its request is there, and the
// worker reads it right after accept4, before any epoll_ctl; the connection closes after its
// answer without ever being registered. Without defer_accept a connection is read first too
// while most first reads find the request (tests/unit/first_read_test.cc), else registered
// and read on its readiness: at most one registration per connection either way.
TEST(SyscallTest, DeferAcceptServesARequestWithoutRegisteringTheConnection) {
  for (const bool deferred : {false, true}) {
    SCOPED_TRACE(deferred ? "defer_accept" : "default");
    Daemon d;
    ASSERT_TRUE(d.start(std::string(R"toml(
[server]
workers = 1
shutdown_timeout = "5s"

[[listener]]
name = "web"
protocol = "tcp"
handler = "http"
address = "127.0.0.1:0"
)toml") + (deferred ? "defer_accept = \"1s\"\n" : "")));
    const Endpoint web = d.listener("web");
    SyscallCounter strace(d.pid(), "accept4,epoll_ctl,read,ioctl");
    ASSERT_TRUE(strace.waitAttached());
    constexpr int kConnections = 30;
    for (int i = 0; i < kConnections; ++i) {
      Fd c = connectTcp(web);
      ASSERT_TRUE(c.valid());
      ASSERT_TRUE(sendAll(c.get(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
      // Read to the end: the daemon closes after its answer.
      const std::string answer = readExactly(c.get(), 1 << 20);
      ASSERT_TRUE(answer.starts_with("HTTP/1.1 ")) << answer;
    }
    auto calls = strace.finish();
    EXPECT_NEAR(static_cast<double>(calls["accept4"]), kConnections, 2);
    EXPECT_EQ(calls["ioctl"], 0u);
    if (deferred) {
      EXPECT_LE(calls["epoll_ctl"], 2u);
      // One read per request: it was there at accept.
      EXPECT_NEAR(static_cast<double>(calls["read"]), kConnections, 2);
    } else {
      EXPECT_LE(calls["epoll_ctl"], static_cast<uint64_t>(kConnections) + 2);
      // A first read that finds nothing costs one more read, and stops the guessing.
      EXPECT_LE(calls["read"], 2u * kConnections + 2);
    }
    EXPECT_TRUE(d.stop());
  }
}

TEST(SyscallTest, AcceptedConnectionsHaveNoDelay) {
  Daemon d;
  ASSERT_TRUE(d.start(config("tcp")));
  Fd c = connectTcp(d.listener("echo"));
  ASSERT_TRUE(c.valid());
  ASSERT_TRUE(echoRoundTrip(c.get(), "ping"));
  // The daemon's end of the connection, borrowed with pidfd_getfd (Linux 5.6): the one socket
  // in its descriptor table whose peer is our local address.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, d.pid(), 0));
  ASSERT_GE(pidfd, 0) << std::strerror(errno);
  const uint16_t our_port = Endpoint::local(c.get()).port();
  int nodelay = -1;
  for (auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(d.pid()) + "/fd")) {
    int target = std::stoi(e.path().filename().string());
    int fd = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, target, 0));
    if (fd < 0) {
      continue;
    }
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
        peer.ss_family == AF_INET &&
        ntohs(reinterpret_cast<sockaddr_in*>(&peer)->sin_port) == our_port) {
      socklen_t olen = sizeof nodelay;
      ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &olen), 0);
    }
    ::close(fd);
  }
  ::close(pidfd);
  EXPECT_EQ(nodelay, 1) << "the accepted socket was not found (-1) or has Nagle on (0)";
  c.reset();
  EXPECT_TRUE(d.stop());
}

TEST(SyscallTest, OneRecvmmsgPerDatagramInFlight) {
  Daemon d;
  ASSERT_TRUE(d.start(config("udp")));
  const Endpoint echo = d.listener("echo");
  Fd client = bindUdp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(client.valid());
  SyscallCounter strace(d.pid(), "recvmmsg,recvmsg,recvfrom,sendmmsg,sendmsg,sendto");
  ASSERT_TRUE(strace.waitAttached());
  constexpr int kDatagrams = 100;
  for (int i = 0; i < kDatagrams; ++i) {
    ASSERT_TRUE(sendDatagram(client.get(), echo, "ping " + std::to_string(i)));
    ASSERT_EQ(receiveDatagram(client.get()), "ping " + std::to_string(i));
    // The next datagram goes only once the worker sleeps again, so a read after the answer
    // would find the queue empty: the case of one datagram in flight.
    ASSERT_TRUE(waitAllThreadsAsleep(d.pid()));
  }
  auto calls = strace.finish();
  // One read per readiness: a batch that came back short shows the queue is empty, so there is
  // no second, empty recvmmsg (libuv's uv_udp_t reads again until EAGAIN, which here would be
  // twice as many). One send per reply. A margin of two for the calls strace sees as it
  // attaches.
  EXPECT_NEAR(static_cast<double>(calls["recvmmsg"]), kDatagrams, 2);
  EXPECT_NEAR(static_cast<double>(calls["sendmmsg"]), kDatagrams, 2);
  EXPECT_EQ(calls["recvmsg"] + calls["recvfrom"] + calls["sendmsg"] + calls["sendto"], 0u);
  EXPECT_TRUE(d.stop());
}

// Zero-timeout epoll_wait calls in a trace written by `strace -f -o FILE`.
size_t zeroTimeoutPolls(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    if (line.find("epoll_") != std::string::npos && line.find(", 0) ") != std::string::npos) {
      ++n;
    }
  }
  return n;
}

// Latency mode polls with epoll_wait(..., 0) after I/O instead of sleeping at once: many
// zero-timeout polls follow one exchange. Without it the worker blocks right after answering.
TEST(SyscallTest, BusyPollSpinsAfterIoAndIsOffByDefault) {
  enum Mode { kOff, kOn, kReloadedOn };
  for (Mode mode : {kOff, kOn, kReloadedOn}) {
    SCOPED_TRACE(mode == kOff ? "busy_poll off" : mode == kOn ? "busy_poll = 1s" : "reloaded");
    const bool busy = mode != kOff;
    Daemon d;
    std::string busy_cfg = config("udp");
    busy_cfg.replace(busy_cfg.find("shutdown_timeout"), 0, "busy_poll = \"1s\"\n");
    ASSERT_TRUE(d.start(mode == kOn ? busy_cfg : config("udp")));
    if (mode == kReloadedOn) {
      // A worker blocked in epoll_wait takes up polling from the next reload on.
      d.rewriteConfig(busy_cfg);
      ASSERT_TRUE(d.reload(1));
    }
    const Endpoint echo = d.listener("echo");
    Fd client = bindUdp(Endpoint::loopback(AF_INET));
    TempDir dir;
    const std::string trace = dir.path() + "/trace";
    ChildProcess strace(ChildProcess::Spec{
        findProgram("strace"),
        {"-f", "-e", "trace=epoll_wait,epoll_pwait", "-o", trace, "-p", std::to_string(d.pid())},
        {},
        {},
        {},
        {}});
    ASSERT_TRUE(attached(strace));
    for (const char* msg : {"ping", "pong"}) {
      ASSERT_TRUE(sendDatagram(client.get(), echo, msg));
      ASSERT_EQ(receiveDatagram(client.get()), msg);
    }
    if (busy) {
      // The worker goes on polling for a second after the exchange: wait until a hundred
      // polls have been seen (a few milliseconds under strace), never for the second itself.
      const auto deadline = Clock::now() + 10s;
      while (zeroTimeoutPolls(trace) < 100 && Clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
      }
      EXPECT_GE(zeroTimeoutPolls(trace), 100u);
    }
    strace.signal(SIGINT);
    EXPECT_FALSE(strace.wait(10s).isRunning());
    if (!busy) {
      // Blocking polls only (each with the time to the next timer), bar the odd zero one.
      EXPECT_LT(zeroTimeoutPolls(trace), 10u);
    }
    EXPECT_TRUE(d.stop());
  }
}

// Keep-alive requests that arrive together are answered together: the replies of one
// wake-up leave in one io_uring_enter, not a sendto each. With io_uring = false, from the
// start or from a reload on, each reply is a sendto and no io_uring call is made.
TEST(SyscallTest, TheRepliesOfOneWakeUpLeaveInOneCall) {
  enum Mode { kOn, kOff, kReloadedOff };
  for (Mode mode : {kOn, kOff, kReloadedOff}) {
    SCOPED_TRACE(mode == kOn    ? "io_uring = true (default)"
                 : mode == kOff ? "io_uring = false"
                                : "reloaded to io_uring = false");
    const bool uring = mode == kOn;
    auto config = [](bool on) {
      return std::string("[server]\nworkers = 1\n") + (on ? "" : "io_uring = false\n") +
             "[[listener]]\nname = \"web\"\nprotocol = \"tcp\"\nhandler = \"http\"\n"
             "address = \"127.0.0.1:0\"\n";
    };
    Daemon d;
    ASSERT_TRUE(d.start(config(mode != kOff)));
    if (mode == kReloadedOff) {
      // The worker follows a reload from its next batch of events on.
      d.rewriteConfig(config(false));
      ASSERT_TRUE(d.reload(1));
    }
    const Endpoint web = d.listener("web");
    constexpr int kClients = 16;
    constexpr int kRounds = 20;
    std::vector<Fd> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(connectTcp(web));
      ASSERT_TRUE(clients.back().valid());
    }
    const std::string request = "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n";
    // One answer first, outside the count, for its length: the head byte by byte, then the
    // body its Content-Length says.
    ASSERT_TRUE(sendAll(clients[0].get(), request));
    std::string first;
    while (!first.ends_with("\r\n\r\n")) {
      const std::string byte = readExactly(clients[0].get(), 1);
      ASSERT_EQ(byte.size(), 1u) << first;
      first += byte;
    }
    const size_t length_at = first.find("Content-Length: ");
    ASSERT_NE(length_at, std::string::npos) << first;
    const size_t body = std::stoul(first.substr(length_at + 16));
    first += readExactly(clients[0].get(), body);
    ASSERT_TRUE(first.starts_with("HTTP/1.1 404")) << first;
    SyscallCounter strace(d.pid(), "sendto,io_uring_enter");
    ASSERT_TRUE(strace.waitAttached());
    for (int round = 0; round < kRounds; ++round) {
      // Every client's request is sent before any answer is read.
      for (Fd& c : clients) {
        ASSERT_TRUE(sendAll(c.get(), request));
      }
      for (Fd& c : clients) {
        ASSERT_EQ(readExactly(c.get(), first.size()).size(), first.size());
      }
    }
    auto calls = strace.finish();
    constexpr uint64_t kRequests = kClients * kRounds;
    if (uring) {
      // Several answers per call (strace slows the worker, so requests wait for it).
      EXPECT_LE(calls["io_uring_enter"] + calls["sendto"], kRequests / 2)
          << calls["io_uring_enter"] << " io_uring_enter, " << calls["sendto"] << " sendto";
      EXPECT_GT(calls["io_uring_enter"], 0u);
    } else {
      EXPECT_EQ(calls["io_uring_enter"], 0u);
      EXPECT_NEAR(static_cast<double>(calls["sendto"]), kRequests, 2);
    }
    EXPECT_TRUE(d.stop());
  }
}

}  // namespace
}  // namespace portd::itest
