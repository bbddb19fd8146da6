// The service-manager protocol without systemd: a NOTIFY_SOCKET owned by the test receives
// what portd tells it, and sockets passed the way systemd passes them (LISTEN_FDS) are adopted.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

// A unix datagram socket like systemd's notification socket.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = std::filesystem::temp_directory_path() /
            ("portd-notify-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove(path_);
    fd_ = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~NotifySocket() { std::filesystem::remove(path_); }
  std::string env() const { return "NOTIFY_SOCKET=" + path_.string(); }

  // Waits for a message containing `text`; returns it, or "" after the timeout.
  std::string waitFor(std::string_view text, Clock::duration timeout = kIoTimeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) == 1) {
        char buf[4096];
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n > 0) {
          std::string m(buf, static_cast<size_t>(n));
          received_.push_back(m);
          if (m.find(text) != std::string::npos) {
            return m;
          }
        }
      }
    }
    return "";
  }
  // Reads every message already waiting, without waiting for more.
  void drain() {
    char buf[4096];
    while (::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
  Fd fd_;
  std::vector<std::string> received_;
};

Daemon::Options withEnv(std::vector<std::string> env) {
  Daemon::Options o;
  o.env = std::move(env);
  return o;
}

Daemon::Options withSockets(std::vector<int> fds, std::string names) {
  Daemon::Options o;
  o.listen_fds = std::move(fds);
  o.listen_fdnames = std::move(names);
  return o;
}

const char* kEchoConfig = R"toml(
[server]
workers = 2
shutdown_timeout = "5s"

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml";

TEST(SystemdTest, ReadyAfterBindingThenStatusThenStoppingOnSigterm) {
  NotifySocket notify;
  Daemon d;
  ASSERT_TRUE(d.start(kEchoConfig, withEnv({notify.env()})));
  std::string ready = notify.waitFor("READY=1");
  ASSERT_NE(ready, "") << d.log();
  EXPECT_NE(ready.find("STATUS=0 connections, 0 req/s, 2 workers"), std::string::npos) << ready;
  // The listener is bound by the time READY=1 is sent.
  Fd c = connectTcp(d.listener("echo"));
  ASSERT_TRUE(c.valid());
  EXPECT_TRUE(echoRoundTrip(c.get(), "ping"));
  std::string status = notify.waitFor("connections", 5s);
  EXPECT_NE(status.find("STATUS=1 connections"), std::string::npos) << status;
  d.signal(SIGTERM);
  EXPECT_NE(notify.waitFor("STOPPING=1"), "");
  c.reset();
  EXPECT_EQ(d.waitExit(10s), ExitStatus::exited(0));
}

TEST(SystemdTest, WatchdogIsPingedWhileTheWorkersTurn) {
  NotifySocket notify;
  Daemon d;
  // No WATCHDOG_PID: sd_watchdog_enabled() then accepts the interval for any process.
  ASSERT_TRUE(d.start(kEchoConfig, withEnv({notify.env(), "WATCHDOG_USEC=400000"})));
  ASSERT_NE(notify.waitFor("READY=1"), "");
  ASSERT_NE(notify.waitFor("WATCHDOG=1"), "");
  ASSERT_NE(notify.waitFor("WATCHDOG=1"), "") << "the watchdog is pinged repeatedly";
  EXPECT_TRUE(d.stop());
}

TEST(SystemdTest, AdoptsPassedSocketsByName) {
  // Sockets made the way a .socket unit makes them: bound and listening before the service
  // starts, named by FileDescriptorName=.
  Fd tcp = listenTcp(Endpoint::loopback(AF_INET));
  Fd udp = bindUdp(Endpoint::loopback(AF_INET));
  Endpoint tcp_at = Endpoint::local(tcp.get());
  Endpoint udp_at = Endpoint::local(udp.get());
  std::string config = R"toml(
[server]
workers = 2

[[listener]]
name = "stream"
protocol = "tcp"
address = "127.0.0.1:1"   # ignored: the passed socket is used
handler = "echo"

[[listener]]
name = "dgram"
protocol = "udp"
address = "127.0.0.1:1"
handler = "echo"
)toml";
  Daemon d;
  ASSERT_TRUE(d.start(config, withSockets({tcp.get(), udp.get()}, "stream:dgram")));
  EXPECT_NE(d.log().find("socket from systemd"), std::string::npos) << d.log();
  // Our copies close: only the daemon holds the sockets now.
  tcp.reset();
  udp.reset();
  EXPECT_EQ(d.listener("stream").toString(), tcp_at.toString());
  for (int i = 0; i < 4; ++i) {
    Fd c = connectTcp(tcp_at);
    ASSERT_TRUE(c.valid());
    EXPECT_TRUE(echoRoundTrip(c.get(), "adopted " + std::to_string(i)));
  }
  Fd u = bindUdp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(sendDatagram(u.get(), udp_at, "datagram"));
  EXPECT_EQ(receiveDatagram(u.get()), "datagram");
  EXPECT_TRUE(d.stop());
}

TEST(SystemdTest, APassedSocketOfTheWrongKindIsRefused) {
  Fd udp = bindUdp(Endpoint::loopback(AF_INET));
  Daemon d;
  auto started = d.start(R"toml(
[[listener]]
name = "stream"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml",
                         withSockets({udp.get()}, "stream"));
  EXPECT_FALSE(started);
  EXPECT_EQ(d.waitExit(10s), ExitStatus::exited(1));
  EXPECT_NE(d.log().find("listener \"stream\": the socket passed by systemd: descriptor 3 is not a "
                         "listening stream socket"),
            std::string::npos)
      << d.log();
}

TEST(SystemdTest, APassedSocketNoListenerNamesIsClosedWithAnError) {
  Fd extra = listenTcp(Endpoint::loopback(AF_INET));
  Endpoint at = Endpoint::local(extra.get());
  Daemon d;
  ASSERT_TRUE(d.start(kEchoConfig, withSockets({extra.get()}, "stray")));
  extra.reset();
  EXPECT_NE(d.log().find("systemd passed a socket named \"stray\""), std::string::npos) << d.log();
  EXPECT_TRUE(waitUntilRefused(at));
  EXPECT_TRUE(d.stop());
}

TEST(SystemdTest, AStuckWorkerStopsTheWatchdogPings) {
  NotifySocket notify;
  // The worker stays blocked while this file exists: until the checks below are done, however
  // long they take, rather than for a fixed time they might outlast on a slow machine.
  auto hold = std::make_unique<TempFile>("", ".hold");
  Daemon d;
  std::string config = std::string("[server]\nworkers = 1\n[[plugin]]\npath = \"") +
                       PORTD_HANG_PLUGIN +
                       "\"\n[[listener]]\nname = \"stuck\"\nprotocol = \"tcp\"\n"
                       "address = \"127.0.0.1:0\"\nhandler = \"hang\"\n"
                       "[listener.options]\nhang = \"60s\"\nhold = \"" +
                       hold->path() + "\"\n";
  ASSERT_TRUE(d.start(config, withEnv({notify.env(), "WATCHDOG_USEC=400000"})));
  ASSERT_NE(notify.waitFor("WATCHDOG=1"), "");
  Fd c = connectTcp(d.listener("stuck"));
  ASSERT_TRUE(sendAll(c.get(), "hang"));
  // The only worker is blocked: the main thread sees its heartbeat age and says so.
  ASSERT_TRUE(d.waitForLog("a worker loop has not turned for 500 ms: not pinging the watchdog"));
  // Every ping sent before that line is in the socket by now; after it, none comes while the
  // worker is stuck (eight times the 100 ms ping interval).
  notify.drain();
  EXPECT_EQ(notify.waitFor("WATCHDOG=1", 800ms), "");
  // Once the worker turns again, the pings come back.
  hold.reset();
  EXPECT_NE(notify.waitFor("WATCHDOG=1", 5s), "");
  c.reset();
  EXPECT_TRUE(d.stop());
}

TEST(SystemdTest, AReloadIsFramedByReloadingAndReady) {
  NotifySocket notify;
  Daemon d;
  ASSERT_TRUE(d.start(kEchoConfig, withEnv({notify.env()})));
  ASSERT_NE(notify.waitFor("READY=1"), "");
  ASSERT_TRUE(d.reload(1));
  std::string reloading = notify.waitFor("RELOADING=1");
  ASSERT_NE(reloading, "");
  // MONOTONIC_USEC is CLOCK_MONOTONIC in microseconds, which systemd compares with its own.
  size_t at = reloading.find("MONOTONIC_USEC=");
  ASSERT_NE(at, std::string::npos) << reloading;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t sent = std::stoull(reloading.substr(at + 15));
  uint64_t now_usec = static_cast<uint64_t>(now.tv_sec) * 1000000u + now.tv_nsec / 1000;
  EXPECT_LE(sent, now_usec);
  EXPECT_GT(sent + 10'000'000u, now_usec);
  EXPECT_NE(notify.waitFor("READY=1"), "") << "READY=1 again after the reload";
  // A refused reload is framed the same way: systemd must not stay in "reloading".
  d.rewriteConfig("[[listener]]\nname = 1\n");
  ASSERT_TRUE(d.reload(2));
  EXPECT_NE(notify.waitFor("RELOADING=1"), "");
  EXPECT_NE(notify.waitFor("READY=1"), "");
  EXPECT_TRUE(d.stop());
}

}  // namespace
}  // namespace portd::itest
