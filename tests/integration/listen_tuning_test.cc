// A TCP listener's handshake settings (backlog, defer_accept, fastopen) as the kernel has them
// on the daemon's sockets, across reloads; and the accept queue and the host's ListenOverflows
// as /metrics shows them.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "daemon_process.h"
#include "metrics_client.h"
#include "netns.h"

namespace portd::itest {
namespace {

// What the kernel says of one listening socket.
struct SocketView {
  int backlog = -1;  // TCP_INFO tcpi_sacked on a listening socket
  int defer_accept = -1;
  int fastopen = -1;
  bool operator==(const SocketView&) const = default;
};

std::ostream& operator<<(std::ostream& os, const SocketView& v) {
  return os << "{backlog " << v.backlog << ", defer_accept " << v.defer_accept << ", fastopen "
            << v.fastopen << "}";
}

// The daemon's listening sockets on `port`, by inode, read through copies of its descriptors
// (pidfd_getfd): the settings as the kernel applies them, whatever the daemon believes. The
// main thread and the workers hold dups of each socket, so sockets are told apart by inode.
std::map<ino_t, SocketView> listeningSockets(pid_t pid, uint16_t port) {
  std::map<ino_t, SocketView> out;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  EXPECT_GE(pidfd, 0) << "pidfd_open: " << std::strerror(errno);
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    int target = std::atoi(e.path().filename().c_str());
    Fd fd(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, target, 0)));
    struct stat st {};
    int listening = 0;
    socklen_t len = sizeof listening;
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISSOCK(st.st_mode) ||
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening ||
        Endpoint::local(fd.get()).port() != port) {
      continue;
    }
    SocketView v;
    tcp_info info{};
    len = sizeof info;
    if (::getsockopt(fd.get(), IPPROTO_TCP, TCP_INFO, &info, &len) == 0) {
      v.backlog = static_cast<int>(info.tcpi_sacked);
    }
    len = sizeof v.defer_accept;
    ::getsockopt(fd.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &v.defer_accept, &len);
    len = sizeof v.fastopen;
    ::getsockopt(fd.get(), IPPROTO_TCP, TCP_FASTOPEN, &v.fastopen, &len);
    out[st.st_ino] = v;
  }
  if (pidfd >= 0) {
    ::close(pidfd);
  }
  return out;
}

// `ss -Hltn sport = :PORT`: Recv-Q (the queue now) and Send-Q (its limit) of each listening
// socket on the port, as an operator would look them up.
std::vector<std::pair<int, int>> ssQueues(uint16_t port) {
  ChildProcess ss({"/usr/bin/ss",
                   {"-Hltn", "sport", "=", ":" + std::to_string(port)},
                   std::nullopt,
                   {},
                   {},
                   ""});
  EXPECT_EQ(ss.wait(kIoTimeout), ExitStatus::exited(0)) << ss.stderrText();
  std::vector<std::pair<int, int>> out;
  std::istringstream in(ss.stdoutText());
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string state;
    int recv_q = -1, send_q = -1;
    fields >> state >> recv_q >> send_q;
    out.emplace_back(recv_q, send_q);
  }
  return out;
}

// A per-socket series of a TCP listener: "NAME{listener=...,socket="K"}".
std::string series(const char* name, const char* listener, const char* handler, int socket) {
  return std::string(name) + "{listener=\"" + listener + "\",handler=\"" + handler +
         "\",protocol=\"tcp\",socket=\"" + std::to_string(socket) + "\"}";
}

// Two echo listeners on two workers; `tuned` and `plain` are their handshake keys.
std::string twoListeners(const std::string& tuned, const std::string& plain) {
  return R"(
[server]
workers = 2
[admin]
address = "127.0.0.1:0"
[[listener]]
name = "tuned"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)" + tuned +
         R"(
[[listener]]
name = "plain"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)" + plain;
}

// Each worker's SO_REUSEPORT socket gets the settings, the kernel reads them back, ss and
// /metrics show the backlog; a reload changes them on the very sockets it keeps, and a key
// taken out of the file gives the socket its default back.
TEST(ListenTuningTest, SocketsCarryTheSettingsAndAReloadChangesThemInPlace) {
  Daemon d;
  ASSERT_TRUE(d.start(twoListeners("backlog = 7\ndefer_accept = \"3s\"\nfastopen = 33\n", "")));
  uint16_t tuned = d.listener("tuned").port();
  uint16_t plain = d.listener("plain").port();
  std::map<ino_t, SocketView> before = listeningSockets(d.pid(), tuned);
  ASSERT_EQ(before.size(), 2u) << "one socket per worker";
  for (const auto& [ino, v] : before) {
    EXPECT_EQ(v, (SocketView{7, 3, 33})) << "3 s is 2 SYN-ACK retransmissions: 1 + 2 s";
  }
  for (const auto& [ino, v] : listeningSockets(d.pid(), plain)) {
    EXPECT_EQ(v, (SocketView{511, 0, 0})) << "the defaults";
  }
  EXPECT_EQ(ssQueues(tuned), (std::vector<std::pair<int, int>>{{0, 7}, {0, 7}}));
  std::string m = metrics(d.admin());
  for (int k : {0, 1}) {
    EXPECT_EQ(sample(m, series("portd_listen_queue_limit", "tuned", "echo", k)), 7) << m;
    EXPECT_EQ(sample(m, series("portd_listen_queue_length", "tuned", "echo", k)), 0) << m;
    EXPECT_EQ(sample(m, series("portd_listen_queue_limit", "plain", "echo", k)), 511) << m;
  }
  EXPECT_EQ(sample(m, series("portd_listen_queue_limit", "tuned", "echo", 2)), -1) << m;
  // A client that speaks first is served at once under defer_accept.
  Fd c = connectTcp(d.listener("tuned"));
  EXPECT_TRUE(echoRoundTrip(c.get(), "hello"));

  d.rewriteConfig(twoListeners("backlog = 9\ndefer_accept = \"1s\"\n", "backlog = 5\n"));
  ASSERT_TRUE(d.reload(1));
  ASSERT_TRUE(d.waitForLog("unchanged listeners keep their handler instances: tuned, plain"))
      << "handshake settings belong to the socket, not to the listener objects";
  std::map<ino_t, SocketView> after = listeningSockets(d.pid(), tuned);
  ASSERT_EQ(after.size(), 2u);
  for (const auto& [ino, v] : after) {
    EXPECT_TRUE(before.contains(ino)) << "the reload keeps the sockets";
    EXPECT_EQ(v, (SocketView{9, 1, 0})) << "fastopen left out: the socket's own, off";
  }
  for (const auto& [ino, v] : listeningSockets(d.pid(), plain)) {
    EXPECT_EQ(v, (SocketView{5, 0, 0}));
  }
  EXPECT_EQ(ssQueues(tuned), (std::vector<std::pair<int, int>>{{0, 9}, {0, 9}}));
  m = metrics(d.admin());
  EXPECT_EQ(sample(m, series("portd_listen_queue_limit", "tuned", "echo", 1)), 9) << m;
  EXPECT_TRUE(echoRoundTrip(c.get(), "still served"));

  // Every key taken out: the defaults again.
  d.rewriteConfig(twoListeners("", ""));
  ASSERT_TRUE(d.reload(2));
  for (const auto& [ino, v] : listeningSockets(d.pid(), tuned)) {
    EXPECT_TRUE(before.contains(ino));
    EXPECT_EQ(v, (SocketView{511, 0, 0}));
  }
  for (const auto& [ino, v] : listeningSockets(d.pid(), plain)) {
    EXPECT_EQ(v, (SocketView{511, 0, 0}));
  }
  c.reset();
  EXPECT_TRUE(d.stop());
}

// A socket passed by systemd comes with the .socket unit's Backlog=, DeferAcceptSec= and
// FastOpen=: a key the listener sets is applied on top, one it leaves out keeps the unit's, and
// taking a key out again on a reload gives the unit's value back.
TEST(ListenTuningTest, APassedSocketKeepsTheUnitsSettingsTheFileLeavesOut) {
  // As a .socket unit with Backlog=3 and DeferAcceptSec=7 makes it. The test keeps its own
  // descriptor of the very socket, so it reads what the daemon set.
  Fd passed = listenTcp(Endpoint::loopback(AF_INET));
  int seven = 7;
  ASSERT_EQ(::setsockopt(passed.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &seven, sizeof seven), 0);
  ASSERT_EQ(::listen(passed.get(), 3), 0);
  auto view = [&] {
    std::map<ino_t, SocketView> all =
        listeningSockets(::getpid(), Endpoint::local(passed.get()).port());
    return all.size() == 1 ? all.begin()->second : SocketView{};
  };
  ASSERT_EQ(view(), (SocketView{3, 7, 0}));
  const std::string head = R"(
[server]
workers = 2
[[listener]]
name = "stream"
protocol = "tcp"
address = "127.0.0.1:1"   # ignored: the passed socket is used
handler = "echo"
)";
  Daemon::Options o;
  o.listen_fds = {passed.get()};
  o.listen_fdnames = "stream";
  Daemon d;
  ASSERT_TRUE(d.start(head + "fastopen = 8\n", o));
  EXPECT_EQ(view(), (SocketView{3, 7, 8}));
  d.rewriteConfig(head + "backlog = 4\n");
  ASSERT_TRUE(d.reload(1));
  EXPECT_EQ(view(), (SocketView{4, 7, 0}));
  d.rewriteConfig(head);
  ASSERT_TRUE(d.reload(2));
  EXPECT_EQ(view(), (SocketView{3, 7, 0})) << "the unit's settings again";
  Fd c = connectTcp(Endpoint::local(passed.get()));
  EXPECT_TRUE(echoRoundTrip(c.get(), "served"));
  c.reset();
  EXPECT_TRUE(d.stop());
}

// A real client with TCP Fast Open (curl --tcp-fastopen): its second request goes out with the
// SYN, and the server's TCPFastOpenPassive counts it, only on the listener that has fastopen.
// In a network namespace of its own, where the sysctl lets servers use Fast Open (bit 2; the
// host's default is 1, clients only) and the counter starts at zero.
TEST(ListenTuningTest, FastOpenClientsSendTheirRequestWithTheSyn) {
  inNewNetns({{"net/ipv4/tcp_fastopen", "3"}}, [] {
    Daemon d;
    ASSERT_TRUE(d.start(R"(
[server]
workers = 1
[[listener]]
name = "plain"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "http"
[[listener]]
name = "tfo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "http"
fastopen = 16
)"));
    // The first connection asks for a cookie, the second sends data with the SYN.
    auto curlTwice = [](const Endpoint& to) {
      for (int i = 0; i < 2; ++i) {
        ChildProcess curl({"/usr/bin/curl",
                           {"-sS", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10",
                            "--tcp-fastopen", "http://" + to.toString() + "/echo"},
                           std::nullopt,
                           {},
                           {},
                           ""});
        EXPECT_EQ(curl.wait(kIoTimeout), ExitStatus::exited(0)) << curl.stderrText();
        EXPECT_EQ(curl.stdoutText(), "200");
      }
    };
    ASSERT_EQ(tcpExtCounter(d.pid(), "TCPFastOpenPassive"), 0);
    curlTwice(d.listener("plain"));
    EXPECT_EQ(tcpExtCounter(d.pid(), "TCPFastOpenPassive"), 0) << "no fastopen, no Fast Open";
    curlTwice(d.listener("tfo"));
    EXPECT_EQ(tcpExtCounter(d.pid(), "TCPFastOpenPassive"), 1);
    EXPECT_TRUE(d.stop());
  });
}

// The accept queue fills while the only worker is stuck: /metrics shows its depth against the
// limit, ss agrees, and once it holds backlog + 1 the next handshake is dropped and counted in
// portd_host_listen_overflows_total (in a namespace of its own, so from exactly zero).
TEST(ListenTuningTest, AFullAcceptQueueShowsAndItsOverflowsAreCounted) {
  inNewNetns({}, [] {
    // The worker blocks in the hang handler while this file exists.
    auto hold = std::make_unique<TempFile>("", ".hold");
    Daemon d;
    ASSERT_TRUE(d.start(std::string("[server]\nworkers = 1\n[admin]\naddress = \"127.0.0.1:0\"\n"
                                    "[[plugin]]\npath = \"") +
                        PORTD_HANG_PLUGIN +
                        "\"\n[[listener]]\nname = \"stuck\"\nprotocol = \"tcp\"\n"
                        "address = \"127.0.0.1:0\"\nhandler = \"hang\"\n"
                        "[listener.options]\nhang = \"60s\"\nhold = \"" +
                        hold->path() +
                        "\"\n[[listener]]\nname = \"queue\"\nprotocol = \"tcp\"\n"
                        "address = \"127.0.0.1:0\"\nhandler = \"echo\"\nbacklog = 2\n"));
    Endpoint admin = d.admin();
    const std::string length = series("portd_listen_queue_length", "queue", "echo", 0);
    const std::string limit = series("portd_listen_queue_limit", "queue", "echo", 0);
    std::string m = metrics(admin);
    EXPECT_EQ(sample(m, length), 0) << m;
    EXPECT_EQ(sample(m, limit), 2) << m;
    ASSERT_EQ(sample(m, "portd_host_listen_overflows_total"), 0) << m;
    ASSERT_EQ(sample(m, "portd_host_listen_drops_total"), 0) << m;

    Fd stuck = connectTcp(d.listener("stuck"));
    ASSERT_TRUE(sendAll(stuck.get(), "x"));
    const std::string reads =
        R"(portd_handler_events_total{listener="stuck",handler="hang",protocol="tcp",name="reads"})";
    auto waitFor = [&](const std::string& s, double at_least) {
      auto deadline = Clock::now() + kIoTimeout;
      while (sample(m = metrics(admin), s) < at_least && Clock::now() < deadline) {
      }
      return sample(m, s);
    };
    ASSERT_EQ(waitFor(reads, 1), 1) << "the worker is stuck from here on";

    // backlog + 1 connections complete and wait; the kernel answers their SYNs itself.
    std::vector<Fd> waiting;
    for (int i = 0; i < 3; ++i) {
      waiting.push_back(connectTcp(d.listener("queue")));
      ASSERT_TRUE(waiting.back().valid());
    }
    EXPECT_EQ(waitFor(length, 3), 3) << m;
    EXPECT_EQ(sample(m, limit), 2);
    EXPECT_EQ(sample(m, "portd_host_listen_overflows_total"), 0) << m;
    EXPECT_EQ(ssQueues(d.listener("queue").port()), (std::vector<std::pair<int, int>>{{3, 2}}));

    // The next SYN finds the queue full: dropped, and counted.
    Endpoint to = d.listener("queue");
    Fd over(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ASSERT_NE(::connect(over.get(), to.get(), to.length()), 0);
    ASSERT_EQ(errno, EINPROGRESS);
    EXPECT_GE(waitFor("portd_host_listen_overflows_total", 1), 1) << m;
    EXPECT_GE(sample(m, "portd_host_listen_drops_total"), 1) << m;
    EXPECT_EQ(sample(m, length), 3) << "nothing more fits";

    // Released, the worker accepts what waited: the queue empties.
    hold.reset();
    auto deadline = Clock::now() + kIoTimeout;
    while (sample(m = metrics(admin), length) != 0 && Clock::now() < deadline) {
    }
    EXPECT_EQ(sample(m, length), 0) << m;
    for (Fd& c : waiting) {
      EXPECT_TRUE(echoRoundTrip(c.get(), "served"));
    }
    waiting.clear();
    over.reset();
    stuck.reset();
    EXPECT_TRUE(d.stop());
  });
}

}  // namespace
}  // namespace portd::itest
