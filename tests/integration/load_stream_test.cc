// `portd load stream://` and `stream+tcp://`, the client of portd's stream handler, against
// the real daemon: a sink echoing over UDP and TCP (every message answered and timed, and the
// sink's own counters in /metrics agree with what was sent), a source streaming to a
// subscriber over UDP (challenge answered) and TCP at its bitrate, the listener's faults seen
// as loss, duplicates and reordering, and hostile servers and bad options.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "daemon_process.h"
#include "external_server.h"
#include "metrics_client.h"
#include "net_client.h"

namespace portd::itest {
namespace {

using nlohmann::json;

std::string config(const std::string& protocol, const std::string& options,
                   const std::string& faults = "") {
  std::string c =
      "[server]\nworkers = 1\n[admin]\naddress = \"127.0.0.1:0\"\n[[listener]]\nname = "
      "\"stream\"\nprotocol = \"" +
      protocol + "\"\naddress = \"127.0.0.1:0\"\nhandler = \"stream\"\n[listener.options]\n" +
      options;
  if (!faults.empty()) {
    c += "[listener.faults]\n" + faults;
  }
  return c;
}

double counter(const Daemon& d, const std::string& protocol, const std::string& name) {
  return sample(metrics(d.admin()),
                R"(portd_handler_events_total{listener="stream",handler="stream",protocol=")" +
                    protocol + R"(",name=")" + name + R"("})");
}

double fault(const Daemon& d, const std::string& kind) {
  return sample(
      metrics(d.admin()),
      R"(portd_faults_injected_total{listener="stream",handler="stream",protocol="udp",kind=")" +
          kind + R"("})");
}

json load(const std::vector<std::string>& args) {
  TempFile out("", ".json");
  std::vector<std::string> all = {"load"};
  all.insert(all.end(), args.begin(), args.end());
  all.insert(all.end(), {"--json", out.path(), "-q"});
  CommandResult r = runPortd(all, 30s);
  EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  return readJson(out.path());
}

uint64_t u(const json& j, const char* a, const char* b = nullptr) {
  const json& v = b == nullptr ? j["counters"][a] : j["counters"][a][b];
  return v.get<uint64_t>();
}

uint64_t latencyCount(const json& j) { return j["latency"]["corrected"]["count"].get<uint64_t>(); }

// ---- sink: messages out, echoes back

TEST(LoadStream, UdpSinkEchoesEveryMessageAndCountsWhatWasSent) {
  Daemon d;
  ASSERT_TRUE(d.start(config("udp", "mode = \"sink\"\n")));
  // Two sockets: each numbers its messages from 0, so the sink sees two whole streams.
  const json j = load({"stream://" + d.listener("stream").toString(), "--rate", "2000", "-d", "1s",
                       "--size", "200", "-c", "2"});
  ASSERT_TRUE(j.is_object());
  // What the kernel dropped before the sink could read it, when something stalled the sink
  // for a tenth of a second (its socket holds about 200 of these): the client's loss and the
  // sink's count, and nothing else is.
  const uint64_t dropped = udpDrops(d.listener("stream").port());
  const uint64_t got = 2000 - dropped;
  EXPECT_EQ(u(j, "sent"), 2000u);
  EXPECT_EQ(u(j, "completed"), got);
  EXPECT_EQ(errorTotal(j), dropped) << j["counters"]["errors"].dump();
  EXPECT_EQ(u(j, "errors", "lost"), dropped);
  EXPECT_EQ(u(j, "duplicates") + u(j, "reordered") + u(j, "late"), 0u);
  EXPECT_EQ(latencyCount(j), got);
  EXPECT_EQ(u(j, "bytes_in"), got * 200);
  EXPECT_EQ(counter(d, "udp", "received"), static_cast<double>(got));
  EXPECT_EQ(counter(d, "udp", "received_bytes"), static_cast<double>(got * 200));
  EXPECT_EQ(counter(d, "udp", "echoed"), static_cast<double>(got));
  EXPECT_EQ(counter(d, "udp", "peers"), 2);
  EXPECT_EQ(counter(d, "udp", "lost"), static_cast<double>(dropped));
  EXPECT_EQ(counter(d, "udp", "reordered"), 0);
  EXPECT_EQ(counter(d, "udp", "duplicated"), 0);
  EXPECT_EQ(counter(d, "udp", "invalid"), 0);
  EXPECT_TRUE(d.stop());
}

TEST(LoadStream, TcpSinkEchoesFramedMessagesInOrder) {
  Daemon d;
  ASSERT_TRUE(d.start(config("tcp", "mode = \"sink\"\n")));
  const json j = load({"stream+tcp://" + d.listener("stream").toString(), "-c", "2", "-p", "4",
                       "-n", "4000", "--size", "100"});
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(u(j, "completed"), 4000u);
  EXPECT_EQ(errorTotal(j), 0u) << j["counters"]["errors"].dump();
  EXPECT_EQ(latencyCount(j), 4000u);
  EXPECT_EQ(u(j, "bytes_out"), 4000u * 104);  // each message after its 4-byte length
  EXPECT_EQ(u(j, "bytes_in"), 4000u * 104);
  EXPECT_EQ(counter(d, "tcp", "received"), 4000);
  EXPECT_EQ(counter(d, "tcp", "received_bytes"), 4000 * 100);
  EXPECT_EQ(counter(d, "tcp", "echoed"), 4000);
  EXPECT_EQ(counter(d, "tcp", "peers"), 2);
  EXPECT_EQ(counter(d, "tcp", "lost") + counter(d, "tcp", "invalid"), 0);
  EXPECT_TRUE(d.stop());
}

// ---- source: a stream in at the source's bitrate

// 8 Mbit/s of 1000-byte datagrams (TCP: 996 bytes and the 4-byte length) is 1000 a second.
constexpr double kBitrate = 8e6;

// The run's seconds include the subscribe before the stream starts. Unoptimised sanitizer
// builds, among other tests, have taken a tenth of a second for that (7.58 Mbit/s).
constexpr double kRateMargin = kSanitizerBuild ? 0.15 : 0.05;

void expectBitrate(const json& j) {
  const double margin = kRateMargin;
  const double seconds = j["seconds"].get<double>();
  const double bits = 8.0 * static_cast<double>(u(j, "bytes_in")) / seconds;
  EXPECT_NEAR(bits, kBitrate, kBitrate * margin) << j.dump();
  EXPECT_NEAR(j["achieved_rate"].get<double>(), 1000, 1000 * margin);
}

TEST(LoadStream, UdpSubscriberAnswersTheChallengeAndReceivesTheBitrate) {
  Daemon d;
  ASSERT_TRUE(d.start(config(
      "udp",
      "mode = \"source\"\nbitrate = \"8Mbit/s\"\npacket_size = 1000\nduration = \"30s\"\n")));
  const json j = load({"stream://" + d.listener("stream").toString(), "--subscribe", "-d", "2s"});
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["model"], "receive");
  // A subscribe without a cookie is challenged (again, if the client repeated it before the
  // challenge came back, as a slow machine may make it); the one with the cookie starts the
  // one stream, and any repeated after it is ignored.
  EXPECT_GE(counter(d, "udp", "challenges"), 1);
  EXPECT_EQ(counter(d, "udp", "streams"), 1);
  const uint64_t received = u(j, "completed");
  EXPECT_GT(static_cast<double>(received), 2000 * (1 - kRateMargin));
  expectBitrate(j);
  EXPECT_EQ(errorTotal(j), 0u) << j["counters"]["errors"].dump();
  EXPECT_EQ(u(j, "duplicates") + u(j, "reordered") + u(j, "late"), 0u);
  // One-way delays on loopback, where both ends read the same clock.
  EXPECT_EQ(latencyCount(j), received);
  EXPECT_LT(j["latency"]["corrected"]["p50_us"].get<int64_t>(), 100'000);
  // Unsubscribed at the end: the source stops where the client did (what was in flight aside).
  const double sent = counter(d, "udp", "sent");
  EXPECT_LE(sent, static_cast<double>(received) + 50);  // 50 ms of the stream at most
  std::this_thread::sleep_for(100ms);  // a source still sending would send 100 more by now
  EXPECT_EQ(counter(d, "udp", "sent"), sent);
  EXPECT_TRUE(d.stop());
}

TEST(LoadStream, TcpReceiverReadsTheFramedStreamAtTheBitrate) {
  Daemon d;
  ASSERT_TRUE(d.start(config(
      "tcp", "mode = \"source\"\nbitrate = \"8Mbit/s\"\npacket_size = 996\nduration = \"30s\"\n")));
  const json j =
      load({"stream+tcp://" + d.listener("stream").toString(), "--subscribe", "-d", "2s"});
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(counter(d, "tcp", "streams"), 1);
  expectBitrate(j);
  EXPECT_EQ(errorTotal(j), 0u) << j["counters"]["errors"].dump();
  EXPECT_EQ(latencyCount(j), u(j, "completed"));
  EXPECT_TRUE(d.stop());
}

// ---- faults of the listener, seen by the client

TEST(LoadStream, DatagramsTheSinkNeverGotAreTheClientsLoss) {
  Daemon d;
  ASSERT_TRUE(d.start(config("udp", "mode = \"sink\"\n", "seed = 7\nudp_drop = 0.05\n")));
  const json j = load({"stream://" + d.listener("stream").toString(), "--rate", "4000", "-d", "1s",
                       "--timeout", "500ms"});
  ASSERT_TRUE(j.is_object());
  const uint64_t lost = u(j, "errors", "lost");
  const double dropped = fault(d, "udp_drop");
  EXPECT_EQ(u(j, "sent"), 4000u);
  EXPECT_EQ(u(j, "completed") + lost, 4000u);
  // Exactly those the fault dropped, and those the kernel dropped if the sink stalled.
  EXPECT_EQ(static_cast<double>(lost),
            dropped + static_cast<double>(udpDrops(d.listener("stream").port())));
  EXPECT_NEAR(dropped / 4000.0, 0.05, 0.015);
  EXPECT_EQ(counter(d, "udp", "received"), static_cast<double>(u(j, "completed")));
  EXPECT_TRUE(d.stop());
}

TEST(LoadStream, ASourcesDuplicatesAndReorderingAreCountedAndLostSubscribesRetried) {
  Daemon d;
  // Half the subscribes are dropped: the client sends them again until the stream comes.
  ASSERT_TRUE(d.start(config(
      "udp", "mode = \"source\"\nbitrate = \"16Mbit/s\"\npacket_size = 1000\nduration = \"30s\"\n",
      "seed = 3\nudp_drop = 0.5\nudp_duplicate = 0.05\nudp_reorder = 0.05\n")));
  const json j =
      load({"stream://" + d.listener("stream").toString(), "--subscribe", "-d", "1500ms"});
  ASSERT_TRUE(j.is_object());
  const auto received = static_cast<double>(u(j, "completed"));
  ASSERT_GT(received, 1000);
  EXPECT_NEAR(static_cast<double>(u(j, "duplicates")) / received, 0.05, 0.015) << j.dump();
  EXPECT_NEAR(static_cast<double>(u(j, "reordered")) / received, 0.05, 0.015) << j.dump();
  EXPECT_EQ(u(j, "errors", "lost"), 0u);
  EXPECT_EQ(counter(d, "udp", "streams"), 1);
  EXPECT_GT(j["jitter_us"].get<double>(), 0);
  EXPECT_TRUE(d.stop());
}

// ---- hostile servers and bad input

std::string header(uint8_t flags, uint64_t seq) {
  std::string h = "PDST";
  h += '\x01';
  h += static_cast<char>(flags);
  h += std::string(2, '\0');
  for (int i = 7; i >= 0; --i) {
    h += static_cast<char>((seq >> (8 * i)) & 0xff);
  }
  h += std::string(8, '\0');
  return h;
}

ChildProcess::Spec loadSpec(const std::vector<std::string>& args, const std::string& json_path) {
  std::vector<std::string> all = {"load"};
  all.insert(all.end(), args.begin(), args.end());
  all.insert(all.end(), {"--json", json_path, "-q"});
  return ChildProcess::Spec{PORTD_BINARY, all, std::nullopt, {}, {}, ""};
}

TEST(LoadStream, AUdpSourceSendingGarbageIsCountedNeverACrash) {
  Fd server = bindUdp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(server.valid());
  const Endpoint at = Endpoint::local(server.get());
  TempFile out("", ".json");
  ChildProcess client(
      loadSpec({"stream://" + at.toString(), "--subscribe", "-d", "1s"}, out.path()));
  // The subscribe, from the client's address: answer it with a challenge, then garbage.
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  char buf[2048];
  pollfd p{server.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  const ssize_t n =
      ::recvfrom(server.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
  ASSERT_EQ(n, 24);
  EXPECT_EQ(std::string(buf, 16), header(2, 0).substr(0, 16));  // the send time aside
  auto send = [&](const std::string& m) {
    ::sendto(server.get(), m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
  };
  send(header(8, 0xc00c1e));
  // The cookie comes back (after any subscribe the client sent again meanwhile).
  bool cookie = false;
  while (!cookie && ::poll(&p, 1, 5000) == 1) {
    cookie = ::recv(server.get(), buf, sizeof buf, 0) == 24 &&
             std::string(buf, 16) == header(2, 0xc00c1e).substr(0, 16);
  }
  ASSERT_TRUE(cookie);
  std::string bad_magic = header(0, 0) + "xxxx";
  bad_magic[0] = 'X';
  send(bad_magic);
  send("PD");          // shorter than a header
  send(header(1, 0));  // flags a source never sends
  send(header(0, 0) + std::string(10, 'x'));
  send(header(0, 1));
  EXPECT_EQ(client.wait(10s), ExitStatus::exited(0)) << client.stderrText();
  const json j = readJson(out.path());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(u(j, "errors", "malformed"), 3u);
  EXPECT_EQ(u(j, "completed"), 2u);
}

TEST(LoadStream, ATcpSourceWithABrokenLengthIsAFramingError) {
  Fd listener = listenTcp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(listener.valid());
  const Endpoint at = Endpoint::local(listener.get());
  TempFile out("", ".json");
  ChildProcess client(
      loadSpec({"stream+tcp://" + at.toString(), "--subscribe", "-d", "1s"}, out.path()));
  pollfd p{listener.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  Fd conn(::accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(conn.valid());
  std::string bad_magic = header(0, 1);
  bad_magic[1] = 'X';
  const std::string wire = std::string("\0\0\0\x18", 4) + header(0, 0) +
                           std::string("\0\0\0\x18", 4) + bad_magic + std::string("\0\0\0\x05", 4) +
                           "hello";
  ASSERT_TRUE(sendAll(conn.get(), wire));
  EXPECT_EQ(waitForClose(conn.get()), PeerClose::kEof);  // the client gave up on it
  EXPECT_EQ(client.wait(10s), ExitStatus::exited(0)) << client.stderrText();
  const json j = readJson(out.path());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(u(j, "completed"), 1u);
  EXPECT_EQ(u(j, "errors", "malformed"), 1u);
  EXPECT_EQ(u(j, "errors", "framing"), 1u);
}

TEST(LoadStream, BadOptionsExitWithStatus2NamingThem) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"stream://127.0.0.1"}, "needs a port"},
      {{"stream+quic://127.0.0.1:1"}, "unknown scheme"},
      {{"stream://127.0.0.1:9", "--size", "10"}, "24-byte header"},
      {{"stream+tcp://127.0.0.1:9", "--size", "65537"}, "--size"},
      {{"stream://127.0.0.1:9", "--subscribe", "--rate", "10"}, "--subscribe"},
      {{"stream://127.0.0.1:9", "--subscribe", "--size", "100"}, "--subscribe"},
      {{"udp://127.0.0.1:9", "--subscribe"}, "--subscribe is for stream://"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"load"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CommandResult r = runPortd(args);
    EXPECT_EQ(r.status, ExitStatus::exited(2)) << c.args[0];
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace portd::itest
