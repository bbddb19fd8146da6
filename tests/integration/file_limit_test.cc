// Running out of file descriptors (EMFILE) pauses accepting; it must not kill the daemon, spin,
// or flood the log.

#include <gtest/gtest.h>

#include <vector>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

TEST(FileLimitTest, DaemonSurvivesRunningOutOfDescriptors) {
  const Clock::time_point started = Clock::now();
  Daemon daemon;
  // portd raises its soft limit to the hard limit, so both are set. At 32 the daemon's own
  // descriptors (loops, pipes, listener) leave room for fewer than 20 connections.
  Daemon::Options options;
  options.file_limit = 32;
  ASSERT_TRUE(daemon.start(R"toml(
[server]
workers = 1
shutdown_timeout = "5s"

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml",
                           options));
  const Endpoint echo = daemon.listener("echo");

  // The kernel completes these handshakes whether or not the daemon can accept them.
  std::vector<Fd> clients;
  for (int i = 0; i < 60; ++i) {
    Fd client = connectTcp(echo);
    ASSERT_TRUE(client.valid()) << "connection " << i;
    clients.push_back(std::move(client));
  }
  // The first report proves that the limit was reached. The daemon retries every 100 ms or so
  // while the connections stay open, but reports again only a second later.
  ASSERT_TRUE(daemon.waitForLog("accept failed"));
  const Clock::time_point first_report = Clock::now();
  const auto cpu_at_first_report = daemon.cpuTime();
  ASSERT_TRUE(daemon.waitForLog("accept failed", 2));
  const auto between_reports = Clock::now() - first_report;
  // A second apart by the daemon's own timestamps: this thread may have seen the first line
  // late. The rate limit counts on the loop clock, which may have been read a moment before
  // the first line was written, hence the slack.
  const auto reported = daemon.logLineTimes("accept failed");
  ASSERT_GE(reported.size(), 2u) << daemon.log();
  EXPECT_GE(reported[1] - reported[0], 1s - 50ms) << daemon.log();
  // Retrying accept() at once would fail the same way: a daemon that does not pause spins and
  // burns a whole CPU. A paused one uses next to nothing; the bound leaves room for a loaded
  // machine's clock-tick accounting.
  EXPECT_LT(daemon.cpuTime() - cpu_at_first_report, between_reports / 4);

  clients.clear();
  Fd fresh = connectTcp(echo);
  ASSERT_TRUE(fresh.valid());
  EXPECT_TRUE(echoRoundTrip(fresh.get(), "still serving")) << daemon.log();
  EXPECT_EQ(daemon.waitExit(0s), ExitStatus::running());

  // The report is rate-limited to one a second (plus the first), however often accept fails.
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  EXPECT_LE(static_cast<double>(daemon.countLogLines("accept failed")), elapsed_s + 2)
      << daemon.log();

  fresh.reset();
  EXPECT_TRUE(daemon.stop());
}

// While the workers' listeners are out of descriptors, the admin endpoint still answers: it keeps
// one in reserve, so that a liveness probe does not kill a server that is only busy.
TEST(FileLimitTest, AdminEndpointAnswersWhileDescriptorsAreExhausted) {
  Daemon daemon;
  Daemon::Options options;
  options.file_limit = 40;
  ASSERT_TRUE(daemon.start(R"toml(
[server]
workers = 1
shutdown_timeout = "5s"

[admin]
address = "127.0.0.1:0"

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml",
                           options));
  const Endpoint admin = daemon.admin();

  std::vector<Fd> clients;
  for (int i = 0; i < 60; ++i) {
    clients.push_back(connectTcp(daemon.listener("echo")));
  }
  ASSERT_TRUE(daemon.waitForLog("accept failed"));
  // Several probes in a row: each one's descriptor goes back to the reserve when it closes.
  for (int probe = 0; probe < 3; ++probe) {
    Fd c = connectTcp(admin);
    ASSERT_TRUE(c.valid());
    ASSERT_TRUE(
        sendAll(c.get(), "GET /healthz HTTP/1.1\r\nHost: portd\r\nConnection: close\r\n\r\n"));
    std::string reply = readExactly(c.get(), 12);
    EXPECT_EQ(reply, "HTTP/1.1 200") << "probe " << probe << "\n" << daemon.log();
  }
  clients.clear();
  EXPECT_TRUE(daemon.stop());
}

}  // namespace
}  // namespace portd::itest
