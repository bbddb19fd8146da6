// The echo handler over TCP, on IPv4 and IPv6 loopback.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <random>
#include <thread>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

class TcpEchoTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (GetParam() == AF_INET6 && !hasIpv6Loopback()) {
      GTEST_SKIP() << "no IPv6 loopback in this environment";
    }
    std::string config = R"toml(
[server]
workers = 2
shutdown_timeout = "5s"

[[listener]]
name = "echo"
protocol = "tcp"
handler = "echo"
address = ")toml" + std::string(loopbackAnyPort(GetParam())) +
                         "\"\n";
    ASSERT_TRUE(daemon_.start(config));
    echo_ = daemon_.listener("echo");
    ASSERT_EQ(echo_.family(), GetParam());
    ASSERT_NE(echo_.port(), 0) << "the log should show the port the kernel picked";
  }

  void TearDown() override {
    if (!IsSkipped()) {
      EXPECT_TRUE(daemon_.stop());
    }
  }

  Daemon daemon_;
  Endpoint echo_;
};

TEST_P(TcpEchoTest, EchoesASmallMessage) {
  Fd client = connectTcp(echo_);
  ASSERT_TRUE(client.valid());
  EXPECT_TRUE(echoRoundTrip(client.get(), "hello, portd\n"));
  EXPECT_TRUE(echoRoundTrip(client.get(), "and again"));
}

TEST_P(TcpEchoTest, EchoesOneMebibyteSentInOneGo) {
  // Random bytes from a fixed seed: every byte value occurs, and a failure is reproducible.
  std::string payload(1 << 20, '\0');
  std::mt19937 rng(862);
  for (char& c : payload) {
    c = static_cast<char>(rng());
  }
  Fd client = connectTcp(echo_);
  ASSERT_TRUE(client.valid());

  // The echo comes back while we are still sending. If one thread did both, sending would
  // stall once the daemon stops reading because its replies are not being read.
  ::testing::AssertionResult sent = ::testing::AssertionSuccess();
  std::thread sender([&] { sent = sendAll(client.get(), payload, 15s); });
  std::string back = readExactly(client.get(), payload.size(), 15s);
  sender.join();

  EXPECT_TRUE(sent);
  ASSERT_EQ(back.size(), payload.size());
  auto diff = std::mismatch(payload.begin(), payload.end(), back.begin());
  EXPECT_TRUE(diff.first == payload.end())
      << "the echo differs at byte " << (diff.first - payload.begin());
}

INSTANTIATE_TEST_SUITE_P(Families, TcpEchoTest, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& info) { return info.param == AF_INET6 ? "IPv6" : "IPv4"; });

}  // namespace
}  // namespace portd::itest
