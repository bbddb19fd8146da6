// SIGTERM and SIGINT: stop accepting at once, let open connections finish until
// server.shutdown_timeout, then close them; a second signal exits at once.

#include <gtest/gtest.h>

#include <csignal>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

std::string configWithShutdownTimeout(const std::string& timeout) {
  return R"toml(
[server]
workers = 2
shutdown_timeout = ")toml" +
         timeout + R"toml("

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml";
}

TEST(ShutdownTest, OpenConnectionFinishesAfterSigterm) {
  Daemon daemon;
  ASSERT_TRUE(daemon.start(configWithShutdownTimeout("30s")));
  const Endpoint echo = daemon.listener("echo");
  Fd client = connectTcp(echo);
  ASSERT_TRUE(client.valid());
  ASSERT_TRUE(echoRoundTrip(client.get(), "before SIGTERM"));

  daemon.signal(SIGTERM);
  EXPECT_TRUE(waitUntilRefused(echo)) << "still accepting after SIGTERM:\n" << daemon.log();
  EXPECT_TRUE(echoRoundTrip(client.get(), "after SIGTERM"));
  client.reset();

  // With the last connection gone, the daemon has nothing to wait for: it must not sit out the
  // 30 s shutdown_timeout.
  EXPECT_EQ(daemon.waitExit(10s), ExitStatus::exited(0)) << daemon.log();
}

TEST(ShutdownTest, SigintWithoutConnectionsExitsAtOnce) {
  Daemon daemon;
  ASSERT_TRUE(daemon.start(configWithShutdownTimeout("30s")));
  daemon.signal(SIGINT);
  EXPECT_EQ(daemon.waitExit(10s), ExitStatus::exited(0)) << daemon.log();
}

TEST(ShutdownTest, ShutdownTimeoutClosesRemainingConnections) {
  Daemon daemon;
  ASSERT_TRUE(daemon.start(configWithShutdownTimeout("300ms")));
  Fd client = connectTcp(daemon.listener("echo"));
  ASSERT_TRUE(client.valid());
  // A round trip makes sure the connection was accepted before the signal.
  ASSERT_TRUE(echoRoundTrip(client.get(), "hello"));

  const Clock::time_point signalled = Clock::now();
  daemon.signal(SIGTERM);
  EXPECT_EQ(waitForClose(client.get()), PeerClose::kEof) << daemon.log();
  // Closed by the timeout, not at once: allow for timer granularity but not for no wait.
  EXPECT_GE(Clock::now() - signalled, 200ms);
  EXPECT_EQ(daemon.waitExit(10s), ExitStatus::exited(0)) << daemon.log();
}

TEST(ShutdownTest, SecondSignalDuringDrainExitsAtOnce) {
  Daemon daemon;
  ASSERT_TRUE(daemon.start(configWithShutdownTimeout("30s")));
  Fd client = connectTcp(daemon.listener("echo"));
  ASSERT_TRUE(client.valid());
  ASSERT_TRUE(echoRoundTrip(client.get(), "keeps the drain going"));

  daemon.signal(SIGTERM);
  // Two signals sent before the first is handled may be merged into one by the kernel, so the
  // second is only sent once the daemon reported that it is draining.
  ASSERT_TRUE(daemon.waitForLog("draining"));
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.waitExit(5s), ExitStatus::exited(1)) << daemon.log();
}

}  // namespace
}  // namespace portd::itest
