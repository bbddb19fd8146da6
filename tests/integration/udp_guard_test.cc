// What keeps a UDP listener from being turned against itself or others: a datagram from the
// listener's own address and port is dropped instead of answered (an answer would come straight
// back, forever), source ports can be blocked for every handler, and replies to one source can
// be capped. Each check reads the daemon's counters from /metrics.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <sstream>
#include <thread>

#include "daemon_process.h"
#include "metrics_client.h"
#include "net_client.h"

namespace portd::itest {
namespace {

// A series of the UDP listener "echo".
std::string series(const std::string& name, const std::string& extra = "") {
  return name + R"({listener="echo",handler="echo",protocol="udp")" + extra + "}";
}

const std::string kOwnAddress = series("portd_datagrams_refused_total", R"(,reason="own_address")");
const std::string kBlockedPort =
    series("portd_datagrams_refused_total", R"(,reason="blocked_source_port")");
const std::string kRateLimited = series("portd_replies_refused_total", R"(,reason="reply_rate")");
const std::string kReceived = series("portd_datagrams_received_total");
const std::string kSent = series("portd_datagrams_sent_total");
const std::string kBytesIn = series("portd_bytes_received_total");
const std::string kBytesOut = series("portd_bytes_sent_total");

// Waits until the daemon has counted `n` or more on `what`.
::testing::AssertionResult waitForCount(const Endpoint& admin, const std::string& what, double n) {
  const Clock::time_point deadline = Clock::now() + kIoTimeout;
  double got = -1;
  while (Clock::now() < deadline) {
    got = sample(metrics(admin), what);
    if (got >= n) {
      return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(10ms);
  }
  return ::testing::AssertionFailure() << what << " is " << got << ", not " << n;
}

// One worker, so that a single socket sees every datagram; `listener_keys` and `options` go
// into the UDP listener's table and its options table.
std::string config(const std::string& address, const std::string& listener_keys = "",
                   const std::string& options = "") {
  return R"toml(
[server]
workers = 1
shutdown_timeout = "5s"

[admin]
address = "127.0.0.1:0"

[[listener]]
name = "echo"
protocol = "udp"
handler = "echo"
address = ")toml" +
         address + "\"\n" + listener_keys + "\n[listener.options]\n" + options + "\n";
}

// Echo must never send more bytes than it received, whatever it was sent.
void expectNoAmplification(const Endpoint& admin) {
  std::string m = metrics(admin);
  EXPECT_LE(sample(m, kBytesOut), sample(m, kBytesIn)) << m;
}

// A UDP datagram with a source of our choosing, through a raw socket (root only): the listener
// is sent a datagram that claims to come from the listener itself.
class OwnAddressTest : public ::testing::TestWithParam<const char*> {};

TEST_P(OwnAddressTest, ADatagramFromTheListenersOwnAddressIsDroppedNotAnswered) {
  Fd raw(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!raw.valid() && (errno == EPERM || errno == EACCES)) {
    GTEST_SKIP() << "raw sockets need CAP_NET_RAW";
  }
  ASSERT_TRUE(raw.valid()) << std::strerror(errno);

  Daemon daemon;
  ASSERT_TRUE(daemon.start(config(GetParam())));
  const Endpoint admin = daemon.admin();
  // A wildcard listener is reached, and spoofed, through loopback like the others.
  const Endpoint echo = Endpoint::loopback(AF_INET, daemon.listener("echo").port());
  ASSERT_NE(echo.port(), 0);

  // Source 127.0.0.1 (the raw socket's address) and the listener's port; destination the same.
  const Endpoint from = Endpoint::loopback(AF_INET);
  ASSERT_EQ(::bind(raw.get(), from.get(), from.length()), 0) << std::strerror(errno);
  const std::string payload = "who is there?";
  std::string packet(sizeof(udphdr) + payload.size(), '\0');
  udphdr header{};
  header.source = htons(echo.port());
  header.dest = htons(echo.port());
  header.len = htons(static_cast<uint16_t>(packet.size()));
  header.check = 0;  // no checksum, which IPv4 allows
  std::memcpy(packet.data(), &header, sizeof header);
  std::memcpy(packet.data() + sizeof header, payload.data(), payload.size());
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // sin_port is not used by raw sockets

  ASSERT_EQ(::sendto(raw.get(), packet.data(), packet.size(), 0,
                     reinterpret_cast<const sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(packet.size()))
      << std::strerror(errno);
  ASSERT_TRUE(waitForCount(admin, kReceived, 1));
  // An answer would arrive back at the listener at once and be answered again: a second is
  // long enough for a loop to show in both the CPU time and the counters. An idle daemon uses
  // next to nothing in a second (a heartbeat every 250 ms); a looping one used 170 ms or more
  // even on a machine busy with builds, a whole core otherwise.
  const std::chrono::milliseconds cpu_before = daemon.cpuTime();
  std::this_thread::sleep_for(1s);
  const std::chrono::milliseconds cpu_used = daemon.cpuTime() - cpu_before;
  EXPECT_LT(cpu_used, 60ms) << "the daemon kept busy after a datagram from itself";

  std::string m = metrics(admin);
  EXPECT_EQ(sample(m, kSent), 0) << m;
  EXPECT_EQ(sample(m, kReceived), 1) << m;
  EXPECT_EQ(sample(m, kOwnAddress), 1) << m;

  // The listener still answers everybody else.
  Fd client = bindUdp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(client.valid());
  ASSERT_TRUE(sendDatagram(client.get(), echo, "still there"));
  EXPECT_EQ(receiveDatagram(client.get()), "still there");
  expectNoAmplification(admin);
  EXPECT_TRUE(daemon.stop());
}

INSTANTIATE_TEST_SUITE_P(Binds, OwnAddressTest, ::testing::Values("127.0.0.1:0", "0.0.0.0:0"),
                         [](const auto& info) {
                           return std::string(info.param) == "0.0.0.0:0" ? "Wildcard" : "Loopback";
                         });

TEST(UdpGuardTest, TheListenersBlockedSourcePortsApplyBeforeTheHandler) {
  // Ports bound before the daemon starts, so they are ours; none is hard-coded.
  Fd blocked = bindUdp(Endpoint::loopback(AF_INET));
  Fd client = bindUdp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(blocked.valid() && client.valid());
  const uint16_t blocked_port = Endpoint::local(blocked.get()).port();

  // Echo's own list is emptied, so only the listener's list can drop the datagram.
  Daemon daemon;
  ASSERT_TRUE(daemon.start(config("127.0.0.1:0",
                                  "blocked_source_ports = [" + std::to_string(blocked_port) + "]",
                                  "blocked_source_ports = []")));
  const Endpoint admin = daemon.admin();
  const Endpoint echo = daemon.listener("echo");

  ASSERT_TRUE(sendDatagram(blocked.get(), echo, "from a blocked port"));
  ASSERT_TRUE(sendDatagram(client.get(), echo, "from an open port"));
  // On loopback an answer to the first would be queued before the answer to the second.
  EXPECT_EQ(receiveDatagram(client.get()), "from an open port");
  EXPECT_EQ(receiveDatagram(blocked.get(), 100ms), std::nullopt);

  std::string m = metrics(admin);
  EXPECT_EQ(sample(m, kBlockedPort), 1) << m;
  EXPECT_EQ(sample(m, kOwnAddress), 0) << m;
  EXPECT_EQ(sample(m, kSent), 1) << m;
  // Echo's own counter did not see it: the listener dropped it first.
  EXPECT_EQ(sample(m, series("portd_handler_events_total", R"(,name="blocked_datagrams")")), 0)
      << m;
  expectNoAmplification(admin);
  EXPECT_TRUE(daemon.stop());
}

TEST(UdpGuardTest, RepliesToOneSourceAreCappedAtItsBurst) {
  // 127.0.0.2 is loopback too (all of 127/8 is), and a source address of its own.
  Fd client = bindUdp(Endpoint::loopback(AF_INET));
  Endpoint other_address = Endpoint::parse("127.0.0.2:0").value();
  Fd other = bindUdp(other_address);
  ASSERT_TRUE(client.valid() && other.valid());

  constexpr int kBurst = 5;
  constexpr int kSentCount = 40;
  Daemon daemon;
  // One reply a second: the test sends its burst in far less, so the refill adds at most one
  // or two.
  ASSERT_TRUE(daemon.start(
      config("127.0.0.1:0", "udp_reply_rate = 1\nudp_reply_burst = " + std::to_string(kBurst))));
  const Endpoint admin = daemon.admin();
  const Endpoint echo = daemon.listener("echo");

  for (int i = 0; i < kSentCount; ++i) {
    ASSERT_TRUE(sendDatagram(client.get(), echo, "datagram " + std::to_string(i)));
  }
  ASSERT_TRUE(waitForCount(admin, kReceived, kSentCount));
  int replies = 0;
  while (receiveDatagram(client.get(), 200ms)) {
    ++replies;
  }
  EXPECT_GE(replies, 1);
  EXPECT_LE(replies, kBurst + 2);

  std::string m = metrics(admin);
  EXPECT_GE(sample(m, kRateLimited), kSentCount - kBurst - 2) << m;
  EXPECT_EQ(sample(m, kSent), replies) << m;

  // Another source address has an allowance of its own.
  ASSERT_TRUE(sendDatagram(other.get(), echo, "from elsewhere"));
  EXPECT_EQ(receiveDatagram(other.get()), "from elsewhere");
  expectNoAmplification(admin);
  EXPECT_TRUE(daemon.stop());
}

}  // namespace
}  // namespace portd::itest
