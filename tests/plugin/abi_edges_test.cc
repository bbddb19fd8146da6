// The edges of the handler interface, through the real daemon and test plugins: the frozen
// ABI 1 header, bounded output (backpressure), drain, ids checked against their owner and
// their generation, where release_config runs, and is_open after a re-entrant close.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

// Only the plain build measures memory (see kSanitizerBuild); the sanitizer builds still
// check everything else.
constexpr bool kMeasuresMemory = !kSanitizerBuild;

std::string plugin(const char* path) {
  return std::string("[[plugin]]\npath = \"") + path + "\"\n";
}

std::string tcpListener(const std::string& name, const std::string& handler,
                        const std::string& options = "") {
  return "\n[[listener]]\nname = \"" + name +
         "\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\nhandler = \"" + handler + "\"\n" +
         (options.empty() ? "" : "[listener.options]\n" + options);
}

TEST(AbiEdges, APluginBuiltAgainstTheFrozenV1HeaderLoadsAndServes) {
  Daemon d;
  ASSERT_TRUE(
      d.start("[server]\nworkers = 1\n" + plugin(PLUGIN_FROZEN_V1) + tcpListener("f", "frozen")));
  Fd c = connectTcp(d.listener("f"));
  // Split in two reads' worth: the partial line is kept by portd (keep_input) in between.
  ASSERT_TRUE(sendAll(c.get(), "hel"));
  ASSERT_TRUE(sendAll(c.get(), "lo\nsecond\n"));
  EXPECT_EQ(readExactly(c.get(), 19), "v1:hello\nv1:second\n");
}

// 12 connections each ask for 48 answers of 256 KiB and read none: 144 MiB if output were not
// bounded; with write_buffer_limit = 1MiB each connection holds about 1.25 MiB.
void expectBoundedOutput(bool careful) {
  Daemon d;
  ASSERT_TRUE(
      d.start("[server]\nworkers = 1\n" + plugin(PLUGIN_EDGES) +
              tcpListener("bulk", "bulk",
                          std::string("careful = ") + (careful ? "true" : "false") + "\n")));
  const uint64_t before = d.settledRssBytes();
  constexpr int kConnections = 12;
  constexpr size_t kRequests = 48;
  constexpr size_t kAnswer = 256 * 1024;
  std::string requests;
  for (size_t i = 0; i < kRequests; ++i) {
    requests += "GET\n";
  }
  std::vector<Fd> conns;
  for (int i = 0; i < kConnections; ++i) {
    conns.push_back(connectTcp(d.listener("bulk")));
    ASSERT_TRUE(sendAll(conns.back().get(), requests));
  }
  const uint64_t loaded = d.settledRssBytes();
  if (kMeasuresMemory) {
    EXPECT_LT(loaded - before, 48ull << 20) << "RSS went from " << before << " to " << loaded;
  }
  ::testing::Test::RecordProperty("rss_before", std::to_string(before));
  ::testing::Test::RecordProperty("rss_loaded", std::to_string(loaded));
  std::printf("portd RSS %llu -> %llu bytes\n", static_cast<unsigned long long>(before),
              static_cast<unsigned long long>(loaded));

  if (careful) {
    // Nothing was lost: a careful handler answers every request once the peer reads.
    std::string got = readExactly(conns[0].get(), kRequests * kAnswer, std::chrono::seconds(20));
    EXPECT_EQ(got.size(), kRequests * kAnswer);
    EXPECT_TRUE(d.waitForLog("bulk: on_writable")) << d.log();
  }
  conns.clear();
  // Every connection's queued output and kept input is let go of once the peers leave.
  const uint64_t after = d.settledRssBytes();
  if (kMeasuresMemory) {
    EXPECT_LT(after, loaded + (4ull << 20)) << before << " " << loaded << " " << after;
  }
  Fd c = connectTcp(d.listener("bulk"));
  ASSERT_TRUE(sendAll(c.get(), "GET\n"));
  EXPECT_EQ(readExactly(c.get(), kAnswer).size(), kAnswer) << "still serving";
}

TEST(AbiEdges, OutputOfACarefulHandlerIsBoundedAndComplete) { expectBoundedOutput(true); }

TEST(AbiEdges, OutputOfAHandlerThatIgnoresRefusalsIsBoundedToo) { expectBoundedOutput(false); }

TEST(AbiEdges, OnDrainLetsAPluginCloseIdleConnectionsAtOnce) {
  Daemon d;
  ASSERT_TRUE(d.start("[server]\nworkers = 1\nshutdown_timeout = \"30s\"\n" + plugin(PLUGIN_EDGES) +
                      tcpListener("bulk", "bulk", "drain_close = true\nsize = 16\n")));
  Fd idle = connectTcp(d.listener("bulk"));
  ASSERT_TRUE(sendAll(idle.get(), "GET\n"));
  ASSERT_EQ(readExactly(idle.get(), 16).size(), 16u);
  const auto start = std::chrono::steady_clock::now();
  d.signal(SIGTERM);
  // Without on_drain the idle connection would hold the exit for the whole 30 s.
  EXPECT_EQ(d.waitExit(std::chrono::seconds(10)), ExitStatus::exited(0)) << d.log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(waitForClose(idle.get()), PeerClose::kEof);
}

TEST(AbiEdges, AnotherInstancesConnectionIdIsRefused) {
  Daemon d;
  // Without io_uring, so that a write the kernel takes at once reports 0 queued: batched, the
  // byte would wait in the worker's batch until the end of the wake-up, and count as queued.
  ASSERT_TRUE(d.start("[server]\nworkers = 1\nio_uring = false\n" + plugin(PLUGIN_EDGES) +
                      tcpListener("s1", "stash") + tcpListener("s2", "stash")));
  Fd a = connectTcp(d.listener("s1"));
  ASSERT_TRUE(sendAll(a.get(), "mine\n"));
  ASSERT_EQ(readExactly(a.get(), 3), "ok\n");
  // The same worker, another listener's instance: the id names a live connection, not its own.
  Fd b = connectTcp(d.listener("s2"));
  ASSERT_TRUE(sendAll(b.get(), "other\n"));
  EXPECT_EQ(readExactly(b.get(), 3), "-1\n");
  EXPECT_TRUE(d.waitForLog("called write() with")) << d.log();
  // Its own instance may use it: the byte arrives, then the status (0 bytes queued).
  ASSERT_TRUE(sendAll(a.get(), "other\n"));
  EXPECT_EQ(readExactly(a.get(), 3), "x0\n");
}

TEST(AbiEdges, ADatagramSocketIdIsStaleOnceAReloadReplacedTheSocket) {
  auto config = [](const std::string& name) {
    return "[server]\nworkers = 1\n" + plugin(PLUGIN_EDGES) + "\n[[listener]]\nname = \"" + name +
           "\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\nhandler = \"stash\"\n";
  };
  Daemon d;
  ASSERT_TRUE(d.start(config("u1")));
  Fd s = bindUdp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(sendDatagram(s.get(), d.listener("u1"), "remember"));
  ASSERT_EQ(receiveDatagram(s.get()), std::optional<std::string>("ok"));
  d.rewriteConfig(config("u2"));
  ASSERT_TRUE(d.reload(1));
  ASSERT_TRUE(sendDatagram(s.get(), d.listener("u2"), "use"));
  // Refused (PORTD_ECLOSED), never a use of the freed socket.
  EXPECT_EQ(receiveDatagram(s.get()), std::optional<std::string>("-1"));
  EXPECT_TRUE(d.waitForLog("called reply() with")) << d.log();
}

TEST(AbiEdges, ReleaseConfigRunsOnTheMainThreadWhenAWorkerDropsTheLastUse) {
  Daemon d;
  ASSERT_TRUE(
      d.start("[server]\nworkers = 1\n" + plugin(PLUGIN_EDGES) + tcpListener("s", "stash")));
  Fd c = connectTcp(d.listener("s"));
  ASSERT_TRUE(sendAll(c.get(), "mine\n"));
  ASSERT_EQ(readExactly(c.get(), 3), "ok\n");
  // A new configuration without that listener: the open connection keeps the old one alive on
  // the worker until it closes.
  d.rewriteConfig("[server]\nworkers = 1\n" + plugin(PLUGIN_EDGES) + tcpListener("t", "stash"));
  ASSERT_TRUE(d.reload(1));
  c.reset();
  ASSERT_TRUE(d.waitForLog("stash: release_config on")) << d.log();
  EXPECT_EQ(d.countLogLines("stash: release_config on another thread"), 0u) << d.log();
}

// After pause_reading, on_data does not come, not even with bytes portd already read; what the
// handler kept is handed over again once it resumes, without waiting for new bytes.
TEST(AbiEdges, NoDataWhilePausedAndKeptInputAfterResume) {
  Daemon d;
  ASSERT_TRUE(
      d.start("[server]\nworkers = 1\n" + plugin(PLUGIN_EDGES) + tcpListener("s", "stash")));
  Fd c = connectTcp(d.listener("s"));
  // One write: "ping" is read with "pause" and kept by the handler.
  ASSERT_TRUE(sendAll(c.get(), "pause\nping\n"));
  EXPECT_EQ(readExactly(c.get(), 5), "pong\n");
  // A second pause; this ping arrives while reading is paused and must wait for the resume.
  ASSERT_TRUE(sendAll(c.get(), "pause\n"));
  ASSERT_TRUE(sendAll(c.get(), "ping\n"));
  EXPECT_EQ(readExactly(c.get(), 5), "pong\n");
}

TEST(AbiEdges, IsOpenSaysClosedAfterAReentrantClose) {
  Daemon d;
  ASSERT_TRUE(
      d.start("[server]\nworkers = 1\n" + plugin(PLUGIN_EDGES) + tcpListener("s", "stash")));
  Fd c = connectTcp(d.listener("s"));
  ASSERT_TRUE(sendAll(c.get(), "close\n"));
  EXPECT_EQ(waitForClose(c.get()), PeerClose::kEof);
  EXPECT_TRUE(d.waitForLog("stash: is_open after close: 0")) << d.log();
  EXPECT_TRUE(d.waitForLog("stash: is_open in on_close: 0")) << d.log();
}

// The same for a connection that lingers after the close (net/connection.h): the peer sent
// more than the command, so the socket is read to its end after on_close, which still finds
// the connection closed.
TEST(AbiEdges, IsOpenSaysClosedInOnCloseOfALingeringConnection) {
  Daemon d;
  ASSERT_TRUE(
      d.start("[server]\nworkers = 1\n" + plugin(PLUGIN_EDGES) + tcpListener("s", "stash")));
  Fd c = connectTcp(d.listener("s"));
  ASSERT_TRUE(sendAll(c.get(), "close\n" + std::string(32 * 1024, '.')));
  EXPECT_EQ(waitForClose(c.get()), PeerClose::kEof);
  EXPECT_TRUE(d.waitForLog("stash: is_open after close: 0")) << d.log();
  EXPECT_TRUE(d.waitForLog("stash: is_open in on_close: 0")) << d.log();
  EXPECT_EQ(d.log().find("is_open in on_close: 1"), std::string::npos) << d.log();
}

// close_lingering (ABI 1.3): a handler refuses what the peer is still sending, and the peer,
// which has sent only the command so far (the read found the socket empty, so portd itself
// sees no reason to linger), sends 4 MiB more before it reads the answer. Lingering, portd reads
// and drops them, and the peer gets the answer and an orderly end.
TEST(AbiEdges, CloseLingeringLetsAPeerStillSendingReadTheAnswer) {
  Daemon d;
  ASSERT_TRUE(
      d.start("[server]\nworkers = 1\n" + plugin(PLUGIN_EDGES) + tcpListener("s", "stash")));
  Fd c = connectTcp(d.listener("s"));
  ASSERT_TRUE(sendAll(c.get(), "refuse\n"));
  ASSERT_TRUE(waitReadable(c.get()));  // the answer has come: the handler has closed
  EXPECT_TRUE(sendAll(c.get(), std::string(4 << 20, '.')));
  EXPECT_EQ(readExactly(c.get(), 8), "refused\n");
  ::shutdown(c.get(), SHUT_WR);
  EXPECT_EQ(waitForClose(c.get()), PeerClose::kEof);
}

// What the test above is about: the same refusal with close() closes the socket at once, and
// the bytes the peer sends after it meet a closed socket, which resets the connection.
TEST(AbiEdges, ClosingAtOnceResetsAPeerStillSending) {
  Daemon d;
  ASSERT_TRUE(
      d.start("[server]\nworkers = 1\n" + plugin(PLUGIN_EDGES) + tcpListener("s", "stash")));
  Fd c = connectTcp(d.listener("s"));
  ASSERT_TRUE(sendAll(c.get(), "refuse-close\n"));
  ASSERT_TRUE(waitReadable(c.get()));
  EXPECT_FALSE(sendAll(c.get(), std::string(4 << 20, '.')));
}

}  // namespace
}  // namespace portd::itest
