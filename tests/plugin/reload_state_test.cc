// SIGHUP keeps the handler instances of every listener the file leaves as it was, with the state
// they built up, and makes new ones only for listeners that changed. The "counter" handler of
// the misbehave plugin shows its instance's state from outside: each connection is greeted,
// and each datagram answered, with "LABEL n=K" for the K-th one that instance served; and it
// logs "instance made" whenever an instance is created.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

std::string config(int workers, const std::string& listeners,
                   const std::string& plugin = PLUGIN_MISBEHAVE) {
  // Debug, so that the log says when a worker has taken the new configuration.
  return "[server]\nworkers = " + std::to_string(workers) +
         "\nshutdown_timeout = \"2s\"\n[log]\nlevel = \"debug\"\n[[plugin]]\npath = \"" + plugin +
         "\"\n" + listeners;
}

std::string counter(const std::string& name, const std::string& protocol, const std::string& label,
                    const std::string& extra = "") {
  return "[[listener]]\nname = \"" + name + "\"\nprotocol = \"" + protocol +
         "\"\naddress = \"127.0.0.1:0\"\nhandler = \"counter\"\n" + extra +
         "[listener.options]\nlabel = \"" + label + "\"\n";
}

// The greeting of a new connection to listener `name`.
std::string greeting(const Daemon& d, const std::string& name, size_t length) {
  Fd c = connectTcp(d.listener(name));
  if (!c.valid()) {
    return "(cannot connect)";
  }
  return readExactly(c.get(), length);
}

// The answer to one datagram sent to listener `name`.
std::string answer(const Daemon& d, const std::string& name) {
  Fd s = bindUdp(Endpoint::loopback(AF_INET));
  if (!sendDatagram(s.get(), d.listener(name), "?")) {
    return "(cannot send)";
  }
  return receiveDatagram(s.get()).value_or("(no answer)");
}

std::string instancesOf(const std::string& listener) {
  return "(listener \"" + listener + "\"): instance made";
}

std::string unchanged(const std::string& listener) {
  return "listener \"" + listener + "\" is unchanged: its handler instances go on";
}

TEST(ReloadKeepsInstances, AnUnchangedFileKeepsHandlerState) {
  Daemon d;
  std::string file = config(1, counter("t", "tcp", "t") + counter("u", "udp", "u"));
  ASSERT_TRUE(d.start(file));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(greeting(d, "t", 6), "t n=" + std::to_string(i) + "\n");
  }
  ASSERT_EQ(answer(d, "u"), "u n=1");
  ASSERT_EQ(answer(d, "u"), "u n=2");

  for (size_t r = 1; r <= 2; ++r) {
    ASSERT_TRUE(d.reload(r));
    // The worker has moved to the new configuration once it says so for both listeners.
    ASSERT_TRUE(d.waitForLog(unchanged("t"), r)) << d.log();
    ASSERT_TRUE(d.waitForLog(unchanged("u"), r)) << d.log();
  }
  EXPECT_NE(d.log().find("unchanged listeners keep their handler instances: t, u"),
            std::string::npos)
      << d.log();
  // The counts go on from where they were instead of starting again at 1.
  EXPECT_EQ(greeting(d, "t", 6), "t n=4\n");
  EXPECT_EQ(answer(d, "u"), "u n=3");
  // No instance was made again.
  EXPECT_EQ(d.countLogLines(instancesOf("t")), 1u) << d.log();
  EXPECT_EQ(d.countLogLines(instancesOf("u")), 1u) << d.log();
  EXPECT_TRUE(d.stop()) << d.log();
}

// The reload is reported (and READY=1 told to systemd, which ends `systemctl reload`) only once
// every worker serves the new configuration. "configuration reloaded" used to be logged as soon
// as the configuration was handed to the workers: here a second before they had made the new
// handler instances and served anything with it.
TEST(ReloadKeepsInstances, TheReloadIsReportedOnceTheWorkersServeIt) {
  Daemon d;
  ASSERT_TRUE(d.start(config(2, counter("t", "tcp", "old"))));
  ASSERT_EQ(greeting(d, "t", 8), "old n=1\n");
  d.rewriteConfig(config(2, counter("t", "tcp", "new") + "create_delay = \"1s\"\n"));
  ASSERT_TRUE(d.reload(1));
  const std::string log = d.log();
  const size_t reported = log.find("configuration reloaded from");
  ASSERT_NE(reported, std::string::npos) << log;
  // Two instances at the start, one per worker, and two made by the reload: all before it.
  EXPECT_EQ(countOccurrences(log.substr(0, reported), instancesOf("t")), 4u) << log;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(greeting(d, "t", 5), "new n") << d.log();
  }
  EXPECT_TRUE(d.stop()) << d.log();
}

TEST(ReloadKeepsInstances, AChangedListenerStartsAfreshWhileTheOthersKeepTheirState) {
  Daemon d;
  ASSERT_TRUE(d.start(
      config(1, counter("a", "tcp", "a") + counter("b", "tcp", "b") + counter("u", "udp", "u"))));
  ASSERT_EQ(greeting(d, "a", 6), "a n=1\n");
  ASSERT_EQ(greeting(d, "a", 6), "a n=2\n");
  ASSERT_EQ(greeting(d, "b", 6), "b n=1\n");
  ASSERT_EQ(answer(d, "u"), "u n=1");
  // A connection open across the reload stays with the instance it started with, which is
  // retired with its listener object and freed when the connection ends.
  Fd open_b = connectTcp(d.listener("b"));
  ASSERT_EQ(readExactly(open_b.get(), 6), "b n=2\n");

  // b's options change, and u's reuse_port (a listener setting, not an option).
  d.rewriteConfig(config(1, counter("a", "tcp", "a") + counter("b", "tcp", "B") +
                                counter("u", "udp", "u", "reuse_port = true\n")));
  ASSERT_TRUE(d.reload(1));
  // The worker made b's and u's new instances while moving to the new configuration.
  ASSERT_TRUE(d.waitForLog(instancesOf("b"), 2)) << d.log();
  ASSERT_TRUE(d.waitForLog(instancesOf("u"), 2)) << d.log();
  ASSERT_TRUE(d.waitForLog(unchanged("a"))) << d.log();
  EXPECT_EQ(greeting(d, "a", 6), "a n=3\n");
  EXPECT_EQ(greeting(d, "b", 6), "B n=1\n");
  EXPECT_EQ(answer(d, "u"), "u n=1");
  EXPECT_EQ(d.countLogLines(instancesOf("a")), 1u) << d.log();
  EXPECT_EQ(d.countLogLines(unchanged("b")), 0u) << d.log();
  EXPECT_EQ(d.countLogLines(unchanged("u")), 0u) << d.log();

  // Reloaded once more without a change, the new instances keep their state in turn.
  ASSERT_TRUE(d.reload(2));
  for (const char* name : {"a", "b", "u"}) {
    ASSERT_TRUE(d.waitForLog(unchanged(name), name[0] == 'a' ? 2 : 1)) << d.log();
  }
  EXPECT_EQ(greeting(d, "a", 6), "a n=4\n");
  EXPECT_EQ(greeting(d, "b", 6), "B n=2\n");
  EXPECT_EQ(answer(d, "u"), "u n=2");
  EXPECT_EQ(d.countLogLines(instancesOf("a")), 1u) << d.log();
  EXPECT_EQ(d.countLogLines(instancesOf("b")), 2u) << d.log();
  EXPECT_EQ(d.countLogLines(instancesOf("u")), 2u) << d.log();
  open_b.reset();
  EXPECT_TRUE(d.stop()) << d.log();
}

// Sockets are spread over workers by count, so another count makes every instance again.
TEST(ReloadKeepsInstances, AnotherWorkerCountMakesEveryInstanceAgain) {
  Daemon d;
  ASSERT_TRUE(d.start(config(1, counter("t", "tcp", "t"))));
  ASSERT_EQ(greeting(d, "t", 6), "t n=1\n");
  d.rewriteConfig(config(2, counter("t", "tcp", "t")));
  ASSERT_TRUE(d.reload(1));
  // The worker that was there makes a new instance, and so does the new one.
  ASSERT_TRUE(d.waitForLog(instancesOf("t"), 3)) << d.log();
  EXPECT_EQ(d.countLogLines(unchanged("t")), 0u) << d.log();
  EXPECT_NE(d.log().find(": 2 workers, 1 listeners, 0 unchanged"), std::string::npos) << d.log();
  // Now with two workers and an unchanged file, both keep theirs.
  ASSERT_TRUE(d.reload(2));
  ASSERT_TRUE(d.waitForLog(unchanged("t"), 2)) << d.log();
  EXPECT_EQ(d.countLogLines(instancesOf("t")), 3u) << d.log();
  EXPECT_TRUE(d.stop()) << d.log();
}

// A new build of a plugin is another library: its handlers are other registry entries, and
// the listeners they serve start afresh even though the file names the same handler with the
// same options.
TEST(ReloadKeepsInstances, ANewBuildOfThePluginMakesItsInstancesAgain) {
  std::string rebuilt = std::string(PLUGIN_MISBEHAVE) + "." + std::to_string(::getpid()) + ".so";
  std::filesystem::copy_file(PLUGIN_MISBEHAVE, rebuilt,
                             std::filesystem::copy_options::overwrite_existing);
  Daemon d;
  ASSERT_TRUE(d.start(config(1, counter("t", "tcp", "t"))));
  ASSERT_EQ(greeting(d, "t", 6), "t n=1\n");
  d.rewriteConfig(config(1, counter("t", "tcp", "t"), rebuilt));
  ASSERT_TRUE(d.reload(1));
  ASSERT_TRUE(d.waitForLog(instancesOf("t"), 2)) << d.log();
  EXPECT_EQ(greeting(d, "t", 6), "t n=1\n");
  EXPECT_EQ(d.countLogLines(unchanged("t")), 0u) << d.log();
  EXPECT_TRUE(d.stop()) << d.log();
  std::filesystem::remove(rebuilt);
}

}  // namespace
}  // namespace portd::itest
