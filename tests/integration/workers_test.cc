// Several workers share one port through SO_REUSEPORT; the kernel spreads connections over
// them.

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <vector>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

TEST(WorkersTest, BothWorkersAcceptConnections) {
  Daemon daemon;
  // The debug log names the worker that accepted each connection.
  Daemon::Options options;
  options.extra_args = {"--log-level", "debug"};
  ASSERT_TRUE(daemon.start(R"toml(
[server]
workers = 2
shutdown_timeout = "5s"

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml",
                           options));
  const Endpoint echo = daemon.listener("echo");

  // All connections stay open until the end, so each is a distinct 4-tuple for the kernel's
  // hash; the chance that 200 of them land on the same worker is 2^-199.
  constexpr int kConnections = 200;
  std::vector<Fd> clients;
  for (int i = 0; i < kConnections; ++i) {
    Fd client = connectTcp(echo);
    ASSERT_TRUE(client.valid()) << "connection " << i;
    ASSERT_TRUE(echoRoundTrip(client.get(), "connection " + std::to_string(i)));
    clients.push_back(std::move(client));
  }
  ASSERT_TRUE(daemon.waitForLog("accepted a connection from", kConnections));

  static const std::regex kAccepted(R"re(listener "echo": worker (\d+) accepted a connection)re");
  const std::string log = daemon.log();
  std::set<int> workers;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kAccepted);
       it != std::sregex_iterator(); ++it) {
    workers.insert(std::stoi((*it)[1].str()));
  }
  EXPECT_EQ(workers, (std::set<int>{0, 1})) << log;

  clients.clear();
  EXPECT_TRUE(daemon.stop());
}

}  // namespace
}  // namespace portd::itest
