// What an idle connection costs the daemon: nothing is allocated for output that never had to
// wait, and no timer or write request is held per connection (the listener keeps one idle
// timer for all of them), so an echo connection that has made its exchange and stays open
// costs its Connection object and little more.

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <vector>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

constexpr bool kMeasuresMemory = !kSanitizerBuild;

TEST(IdleMemoryTest, AnIdleEchoConnectionCostsUnder700Bytes) {
  constexpr size_t kConnections = 3000;
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max < kConnections + 100) {
    GTEST_SKIP() << "the descriptor limit is below " << kConnections;
  }
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);

  Daemon d;
  ASSERT_TRUE(d.start(R"toml(
[server]
workers = 1

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
max_connections = 10000
idle_timeout = "5m"
)toml"));
  const Endpoint echo = d.listener("echo");
  std::vector<Fd> conns;
  // A few first: the pools and arenas a connection uses are set up once, not per connection.
  for (int i = 0; i < 20; ++i) {
    conns.push_back(connectTcp(echo));
    ASSERT_TRUE(echoRoundTrip(conns.back().get(), "x"));
  }
  const uint64_t before = d.settledRssBytes();
  for (size_t i = 0; i < kConnections; ++i) {
    conns.push_back(connectTcp(echo));
    ASSERT_TRUE(conns.back().valid());
    ASSERT_TRUE(echoRoundTrip(conns.back().get(), "x"));
  }
  const uint64_t after = d.settledRssBytes();
  const double per_connection = static_cast<double>(after - before) / kConnections;
  std::printf("portd RSS %llu -> %llu bytes: %.0f bytes per idle connection\n",
              static_cast<unsigned long long>(before), static_cast<unsigned long long>(after),
              per_connection);
  if (kMeasuresMemory) {
    // 512 bytes of Connection and its share of the worker's tables; 1,468 with a uv_timer_t,
    // a uv_write_t and an empty std::deque (512 bytes of node) in every connection.
    EXPECT_LT(per_connection, 700);
  }
  conns.clear();
  EXPECT_TRUE(d.stop());
}

}  // namespace
}  // namespace portd::itest
