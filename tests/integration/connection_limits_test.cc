// Per-listener limits on TCP connections: idle_timeout and max_connections.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

class IdleTimeoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_.start(R"toml(
[server]
workers = 1
shutdown_timeout = "5s"

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
idle_timeout = "200ms"
)toml"));
  }

  void TearDown() override { EXPECT_TRUE(daemon_.stop()); }

  Daemon daemon_;
};

TEST_F(IdleTimeoutTest, SilentConnectionIsClosed) {
  Fd client = connectTcp(daemon_.listener("echo"));
  ASSERT_TRUE(client.valid());
  // The daemon's last activity on the connection is after this point, whenever this thread
  // gets to run again.
  const Clock::time_point before_last_activity = Clock::now();
  ASSERT_TRUE(echoRoundTrip(client.get(), "then silence"));
  EXPECT_EQ(waitForClose(client.get()), PeerClose::kEof);
  // Not closed at once: the timeout counts from the last byte.
  EXPECT_GE(Clock::now() - before_last_activity, 200ms - kLoopClockSlack);
}

TEST_F(IdleTimeoutTest, ActiveConnectionStaysOpen) {
  Fd client = connectTcp(daemon_.listener("echo"));
  ASSERT_TRUE(client.valid());
  const Clock::time_point opened = Clock::now();
  // The pace is what is under test here: a byte every 20 ms, a tenth of the idle timeout,
  // keeps the connection busy for three idle timeouts. Each pause checks that the connection
  // stays open.
  while (Clock::now() - opened < 600ms) {
    ASSERT_TRUE(echoRoundTrip(client.get(), "."))
        << "closed after " << (Clock::now() - opened) / 1ms << " ms";
    ASSERT_EQ(waitForClose(client.get(), 20ms), PeerClose::kStillOpen)
        << "after " << (Clock::now() - opened) / 1ms << " ms";
  }
  EXPECT_TRUE(echoRoundTrip(client.get(), "still open"));
}

TEST(MaxConnectionsTest, ConnectionOverTheLimitIsClosedAtOnce) {
  Daemon daemon;
  // With one worker the per-worker share of max_connections is the whole limit.
  ASSERT_TRUE(daemon.start(R"toml(
[server]
workers = 1
shutdown_timeout = "5s"

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
max_connections = 2
)toml"));
  const Endpoint echo = daemon.listener("echo");
  Fd first = connectTcp(echo);
  Fd second = connectTcp(echo);
  ASSERT_TRUE(first.valid() && second.valid());
  // Round trips make sure both count against the limit before the third arrives.
  ASSERT_TRUE(echoRoundTrip(first.get(), "first"));
  ASSERT_TRUE(echoRoundTrip(second.get(), "second"));

  // The kernel completes the handshake; the daemon then closes the connection it cannot take.
  Fd third = connectTcp(echo);
  ASSERT_TRUE(third.valid());
  const PeerClose closed = waitForClose(third.get());
  EXPECT_TRUE(closed == PeerClose::kEof || closed == PeerClose::kReset) << closed;

  EXPECT_TRUE(echoRoundTrip(first.get(), "first again"));
  EXPECT_TRUE(echoRoundTrip(second.get(), "second again"));
  // Once one closes, there is room again.
  first.reset();
  // The daemon learns of the close asynchronously, so a new connection may still be refused
  // for a moment; retry until one is admitted.
  Fd fourth;
  const Clock::time_point deadline = Clock::now() + kIoTimeout;
  while (!fourth.valid() && Clock::now() < deadline) {
    Fd attempt = connectTcp(echo);
    if (attempt.valid() && echoRoundTrip(attempt.get(), "fourth")) {
      fourth = std::move(attempt);
    }
  }
  EXPECT_TRUE(fourth.valid()) << daemon.log();
  third.reset();
  second.reset();
  fourth.reset();
  EXPECT_TRUE(daemon.stop());
}

// A client connected from `source` (an address of 127.0.0.0/8) to `to`.
Fd connectFrom(const char* source, const Endpoint& to) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &local.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, to.get(), to.length()) != 0) {
    ::close(fd);
    return Fd();
  }
  return Fd(fd);
}

TEST(MaxConnectionsTest, OnePeerAddressIsCappedByMaxConnectionsPerIp) {
  Daemon daemon;
  ASSERT_TRUE(daemon.start(R"toml(
[server]
workers = 1

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
max_connections_per_ip = 2
)toml"));
  const Endpoint echo = daemon.listener("echo");
  Fd a1 = connectFrom("127.0.0.2", echo);
  Fd a2 = connectFrom("127.0.0.2", echo);
  ASSERT_TRUE(echoRoundTrip(a1.get(), "a1"));
  ASSERT_TRUE(echoRoundTrip(a2.get(), "a2"));
  Fd a3 = connectFrom("127.0.0.2", echo);
  ASSERT_TRUE(a3.valid());
  const PeerClose closed = waitForClose(a3.get());
  EXPECT_TRUE(closed == PeerClose::kEof || closed == PeerClose::kReset) << closed;
  EXPECT_TRUE(daemon.waitForLog("is at max_connections_per_ip (2)")) << daemon.log();
  // Another address is not held back by the first one's connections.
  Fd b = connectFrom("127.0.0.3", echo);
  EXPECT_TRUE(echoRoundTrip(b.get(), "b")) << daemon.log();
  // A slot freed by the first address is its own again.
  a1.reset();
  Fd again;
  const Clock::time_point deadline = Clock::now() + kIoTimeout;
  while (!again.valid() && Clock::now() < deadline) {
    Fd attempt = connectFrom("127.0.0.2", echo);
    if (attempt.valid() && echoRoundTrip(attempt.get(), "again")) {
      again = std::move(attempt);
    }
  }
  EXPECT_TRUE(again.valid()) << daemon.log();
}

TEST(MaxConnectionsTest, ServerMaxConnectionsCapsEveryListenerTogether) {
  Daemon daemon;
  ASSERT_TRUE(daemon.start(R"toml(
[server]
workers = 1
max_connections = 3

[[listener]]
name = "a"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"

[[listener]]
name = "b"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml"));
  Fd a1 = connectTcp(daemon.listener("a"));
  Fd a2 = connectTcp(daemon.listener("a"));
  Fd b1 = connectTcp(daemon.listener("b"));
  ASSERT_TRUE(echoRoundTrip(a1.get(), "a1"));
  ASSERT_TRUE(echoRoundTrip(a2.get(), "a2"));
  ASSERT_TRUE(echoRoundTrip(b1.get(), "b1"));
  for (const char* name : {"a", "b"}) {
    Fd over = connectTcp(daemon.listener(name));
    ASSERT_TRUE(over.valid());
    const PeerClose closed = waitForClose(over.get());
    EXPECT_TRUE(closed == PeerClose::kEof || closed == PeerClose::kReset) << name << " " << closed;
  }
  EXPECT_TRUE(daemon.waitForLog("is at server.max_connections (3)")) << daemon.log();
}

}  // namespace
}  // namespace portd::itest
