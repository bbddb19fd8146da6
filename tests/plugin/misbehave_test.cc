// A plugin that breaks the rules at run time costs the connection it broke them on, and a line
// in the log naming the handler, never the daemon: it keeps serving every other connection.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

const std::string kConfig = std::string(R"toml([server]
workers = 1
shutdown_timeout = "2s"

[[plugin]]
path = ")toml") + PLUGIN_MISBEHAVE + R"toml("

[[listener]]
name = "bad"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "misbehave"
[listener.options]
late_ms = "200ms"
)toml";

// Sends a command line and reads the answer line of known length.
std::string command(int fd, const std::string& line, size_t answer_len) {
  EXPECT_TRUE(sendAll(fd, line + "\n"));
  return readExactly(fd, answer_len);
}

::testing::AssertionResult stillServes(const Daemon& d) {
  Fd c = connectTcp(d.listener("bad"));
  if (!c.valid()) {
    return ::testing::AssertionFailure() << "cannot connect";
  }
  std::string got = command(c.get(), "ping", 5);
  if (got != "pong\n") {
    return ::testing::AssertionFailure() << "ping answered \"" << got << "\"";
  }
  return ::testing::AssertionSuccess();
}

TEST(MisbehavingPlugin, StaleConnectionIdIsRefusedAndLogged) {
  Daemon d;
  ASSERT_TRUE(d.start(kConfig));
  {
    Fd c = connectTcp(d.listener("bad"));
    ASSERT_TRUE(c.valid());
    ASSERT_EQ(command(c.get(), "late", 6), "later\n");
  }  // closed by the client before the handler's timer fires

  // The plugin logs what each host function returned for the stale ids.
  ASSERT_TRUE(d.waitForLog("stale connection:"));
  std::string log = d.log();
  for (const char* result : {"write=-1", "close=-1", "abort=-1", "pause_reading=-1",
                             "resume_reading=-1", "set_conn_data=-1", "conn_data=null",
                             "peer_address=-1", "timer_stop=-1"}) {
    EXPECT_NE(log.find(result), std::string::npos) << "no " << result << " in:\n" << log;
  }
  // And portd logged the misuse itself, naming the handler.
  EXPECT_GE(d.countLogLines("misbehave"), 2u) << log;
  EXPECT_TRUE(stillServes(d)) << d.log();
  EXPECT_TRUE(d.stop()) << d.log();
}

TEST(MisbehavingPlugin, FailingCallbackClosesOnlyThatConnection) {
  Daemon d;
  ASSERT_TRUE(d.start(kConfig));
  Fd other = connectTcp(d.listener("bad"));
  ASSERT_TRUE(other.valid());
  ASSERT_EQ(command(other.get(), "ping", 5), "pong\n");

  Fd failing = connectTcp(d.listener("bad"));
  ASSERT_TRUE(failing.valid());
  ASSERT_TRUE(sendAll(failing.get(), "fail\n"));
  PeerClose how = waitForClose(failing.get());
  EXPECT_TRUE(how == PeerClose::kEof || how == PeerClose::kReset) << how;
  EXPECT_TRUE(d.waitForLog("misbehave")) << d.log();

  // The connection opened before, and new ones, are still served.
  EXPECT_EQ(command(other.get(), "ping", 5), "pong\n");
  EXPECT_TRUE(stillServes(d)) << d.log();
  EXPECT_TRUE(d.stop()) << d.log();
}

TEST(MisbehavingPlugin, RepeatedFailuresAreLoggedAtMostOnceASecond) {
  Daemon d;
  ASSERT_TRUE(d.start(kConfig));
  size_t before = d.countLogLines("misbehave");
  constexpr int kFailures = 20;
  for (int i = 0; i < kFailures; ++i) {
    Fd c = connectTcp(d.listener("bad"));
    ASSERT_TRUE(c.valid());
    ASSERT_TRUE(sendAll(c.get(), "fail\n"));
    PeerClose how = waitForClose(c.get());
    ASSERT_TRUE(how == PeerClose::kEof || how == PeerClose::kReset) << how;
  }
  EXPECT_TRUE(stillServes(d)) << d.log();
  size_t failures_logged = d.countLogLines("misbehave") - before;
  EXPECT_GE(failures_logged, 1u) << d.log();
  EXPECT_LT(failures_logged, static_cast<size_t>(kFailures) / 2) << d.log();
  EXPECT_TRUE(d.stop()) << d.log();
}

}  // namespace
}  // namespace portd::itest
