// `portd load tcp:// udp:// --format sockperf` against sockperf's own server, which answers
// only messages in its format: every message must come back, and an echo that does not speak
// it (portd's) must show as errors, never as answers.

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "daemon_process.h"
#include "external_server.h"
#include "net_client.h"

namespace portd::itest {
namespace {

using nlohmann::json;

// A sockperf message: sequence number, flags (client + answer wanted), length, padding.
std::string sockperfPing(uint64_t seq, uint32_t size) {
  std::string m(size, 'x');
  for (int i = 0; i < 8; ++i) {
    m[static_cast<size_t>(i)] = static_cast<char>((seq >> (56 - 8 * i)) & 0xff);
  }
  m[8] = 0;
  m[9] = 3;
  for (int i = 0; i < 4; ++i) {
    m[static_cast<size_t>(10 + i)] = static_cast<char>((size >> (24 - 8 * i)) & 0xff);
  }
  return m;
}

bool udpServerPongs(const Endpoint& to) {
  Fd fd = bindUdp(Endpoint::loopback(AF_INET));
  if (!fd.valid() || !sendDatagram(fd.get(), to, sockperfPing(1, 64))) {
    return false;
  }
  std::optional<std::string> answer = receiveDatagram(fd.get(), 200ms);
  return answer && answer->size() == 64 && (*answer)[9] == 2;
}

bool tcpServerPongs(const Endpoint& to) {
  Fd fd = connectTcp(to);
  if (!fd.valid() || !sendAll(fd.get(), sockperfPing(1, 64), 1s)) {
    return false;
  }
  std::string answer = readExactly(fd.get(), 64, 1s);
  return answer.size() == 64 && answer[9] == 2;
}

class LoadSockperfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sockperf_ = findProgram("sockperf");
    ASSERT_NE(sockperf_, "") << "sockperf is not installed (.ci/setup installs it)";
  }
  json run(const std::vector<std::string>& args) {
    TempFile out("", ".json");
    std::vector<std::string> all = {"load"};
    all.insert(all.end(), args.begin(), args.end());
    all.insert(all.end(), {"--json", out.path(), "-q"});
    CommandResult r = runPortd(all, 30s);
    EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.err;
    return readJson(out.path());
  }
  std::string sockperf_;
};

TEST_F(LoadSockperfTest, UdpEveryMessageIsAnsweredBySockperfServer) {
  ExternalServer server;
  // UDP: sockperf's server on one socket, as its ping-pong client expects.
  ASSERT_TRUE(
      server.start(sockperf_, {"server", "-i", "127.0.0.1", "-p", "{port}"}, udpServerPongs));
  const json j = run({"udp://127.0.0.1:" + server.port(), "--format", "sockperf", "--rate", "2000",
                      "-d", "1s", "--size", "100"});
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["counters"]["sent"], 2000);
  EXPECT_EQ(j["counters"]["completed"], 2000);
  EXPECT_EQ(errorTotal(j), 0u) << j["counters"]["errors"].dump();
  EXPECT_EQ(j["counters"]["bytes_in"], 2000 * 100);
}

TEST_F(LoadSockperfTest, TcpPipelinedOverSeveralConnectionsIsAnsweredInOrder) {
  TempDir dir;
  ExternalServer server;
  // Its TCP server multiplexes connections only when told to with a feed file and -F.
  const std::string feed = dir.path() + "/feed";
  ASSERT_TRUE(
      server.start(sockperf_, {"server", "-f", feed, "-F", "epoll"}, tcpServerPongs,
                   [&](uint16_t port) { std::ofstream(feed) << "T:127.0.0.1:" << port << "\n"; }));
  const json j = run({"tcp://127.0.0.1:" + server.port(), "--format", "sockperf", "-c", "4", "-p",
                      "8", "-n", "20000"});
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["counters"]["completed"], 20000);
  EXPECT_EQ(errorTotal(j), 0u) << j["counters"]["errors"].dump();
}

// portd's echo sends each message back as it came, the "from a client" flag still set: sockperf
// would drop such an answer, and so does portd load.
TEST_F(LoadSockperfTest, AnEchoIsNotASockperfServer) {
  Daemon d;
  ASSERT_TRUE(d.start(R"toml(
[server]
workers = 1
[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
[[listener]]
name = "uecho"
protocol = "udp"
address = "127.0.0.1:0"
handler = "echo"
)toml"));
  const json t = run({"tcp://" + d.listener("echo").toString(), "--format", "sockperf", "-c", "1",
                      "-n", "10", "--timeout", "1s"});
  ASSERT_TRUE(t.is_object());
  EXPECT_EQ(t["counters"]["completed"], 0);
  EXPECT_GT(t["counters"]["errors"]["mismatch"].get<uint64_t>(), 0u) << t.dump();
  const json u = run({"udp://" + d.listener("uecho").toString(), "--format", "sockperf", "--rate",
                      "100", "-d", "200ms", "--timeout", "500ms"});
  ASSERT_TRUE(u.is_object());
  EXPECT_EQ(u["counters"]["completed"], 0);
  EXPECT_GT(errorTotal(u), 0u) << u.dump();
  EXPECT_TRUE(d.stop());
}

}  // namespace
}  // namespace portd::itest
