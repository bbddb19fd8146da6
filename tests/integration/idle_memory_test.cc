// What an idle connection costs the daemon: nothing is allocated for output that never had to
// wait, and no timer or write request is held per connection (the listener keeps one idle
// timer for all of them), so an echo connection that has made its exchange and stays open
// costs its Connection object and little more. An http connection between requests holds no
// session either (the parser, its buffers, its timers), only a node of the handler's idle list.

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <functional>
#include <vector>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

constexpr bool kMeasuresMemory = !kSanitizerBuild;

// RSS growth per connection for `count` connections that each make `exchange` and stay open.
double bytesPerIdleConnection(const std::string& handler, const std::string& options,
                              const std::function<void(int fd)>& exchange) {
  constexpr size_t kConnections = 3000;
  Daemon d;
  EXPECT_TRUE(d.start(R"toml(
[server]
workers = 1

[[listener]]
name = "idle"
protocol = "tcp"
address = "127.0.0.1:0"
max_connections = 10000
idle_timeout = "5m"
handler = ")toml" + handler +
                      "\"\n" + options));
  const Endpoint to = d.listener("idle");
  std::vector<Fd> conns;
  // A few first: the pools and arenas a connection uses are set up once, not per connection.
  for (int i = 0; i < 20; ++i) {
    conns.push_back(connectTcp(to));
    exchange(conns.back().get());
  }
  const uint64_t before = d.settledRssBytes();
  for (size_t i = 0; i < kConnections; ++i) {
    conns.push_back(connectTcp(to));
    EXPECT_TRUE(conns.back().valid());
    exchange(conns.back().get());
  }
  const uint64_t after = d.settledRssBytes();
  const double per_connection = static_cast<double>(after - before) / kConnections;
  std::printf("%s: portd RSS %llu -> %llu bytes: %.0f bytes per idle connection\n", handler.c_str(),
              static_cast<unsigned long long>(before), static_cast<unsigned long long>(after),
              per_connection);
  conns.clear();
  EXPECT_TRUE(d.stop());
  return per_connection;
}

class IdleMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rlimit limit{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_max < 3100) {
      GTEST_SKIP() << "the descriptor limit is too low";
    }
    limit.rlim_cur = limit.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
};

TEST_F(IdleMemoryTest, AnIdleEchoConnectionCostsUnder700Bytes) {
  const double bytes =
      bytesPerIdleConnection("echo", "", [](int fd) { EXPECT_TRUE(echoRoundTrip(fd, "x")); });
  if (kMeasuresMemory) {
    // 512 bytes of Connection and its share of the worker's tables; 1,468 with a uv_timer_t,
    // a uv_write_t and an empty std::deque (512 bytes of node) in every connection.
    EXPECT_LT(bytes, 700);
  }
}

TEST_F(IdleMemoryTest, AnHttpKeepAliveConnectionBetweenRequestsCostsUnder700Bytes) {
  const std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string response_end = "hello\n";
  const double bytes = bytesPerIdleConnection(
      "http", "[[listener.options.route]]\npath = \"/hello\"\nbody = \"hello\\n\"\n",
      [&, length = size_t{0}](int fd) mutable {
        ASSERT_TRUE(sendAll(fd, request));
        if (length != 0) {
          // Every response has the same length (the Date line is of fixed width).
          EXPECT_TRUE(readExactly(fd, length).ends_with(response_end));
          return;
        }
        std::string got;
        while (!got.ends_with(response_end)) {
          std::string more = readExactly(fd, 1);
          ASSERT_FALSE(more.empty()) << got;
          got += more;
        }
        length = got.size();
      });
  if (kMeasuresMemory) {
    // The Connection and a 40-byte idle-list node; 1,440 when the session (864 bytes: the
    // parser and its timers) stayed with the connection between requests.
    EXPECT_LT(bytes, 700);
  }
}

}  // namespace
}  // namespace portd::itest
