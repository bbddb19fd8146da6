// Per-listener limits on TCP connections: idle_timeout and max_connections.

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace portd::itest
