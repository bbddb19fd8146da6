// The echo handler over UDP, on IPv4 and IPv6 loopback.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

class UdpEchoTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (GetParam() == AF_INET6 && !hasIpv6Loopback()) {
      GTEST_SKIP() << "no IPv6 loopback in this environment";
    }
    // The blocked port belongs to a socket we bind before the daemon starts, so it is free and
    // stays ours; no port number is hard-coded.
    blocked_client_ = bindUdp(Endpoint::loopback(GetParam()));
    client_ = bindUdp(Endpoint::loopback(GetParam()));
    ASSERT_TRUE(blocked_client_.valid() && client_.valid());
    const uint16_t blocked_port = Endpoint::local(blocked_client_.get()).port();

    // One worker: a single socket takes the datagrams in the order they were sent, which the
    // blocked-port test relies on.
    std::string config = R"toml(
[server]
workers = 1
shutdown_timeout = "5s"

[[listener]]
name = "echo"
protocol = "udp"
handler = "echo"
address = ")toml" + std::string(loopbackAnyPort(GetParam())) +
                         R"toml("
[listener.options]
blocked_source_ports = [)toml" +
                         std::to_string(blocked_port) + "]\n";
    ASSERT_TRUE(daemon_.start(config));
    echo_ = daemon_.listener("echo");
    ASSERT_EQ(echo_.family(), GetParam());
    ASSERT_NE(echo_.port(), 0);
  }

  void TearDown() override {
    if (!IsSkipped()) {
      EXPECT_TRUE(daemon_.stop());
    }
  }

  Daemon daemon_;
  Endpoint echo_;
  Fd client_;
  Fd blocked_client_;
};

TEST_P(UdpEchoTest, EchoesADatagramToItsSender) {
  ASSERT_TRUE(sendDatagram(client_.get(), echo_, "hello, portd"));
  EXPECT_EQ(receiveDatagram(client_.get()), "hello, portd");
}

TEST_P(UdpEchoTest, EchoesAnEmptyDatagramAsEmpty) {
  ASSERT_TRUE(sendDatagram(client_.get(), echo_, ""));
  EXPECT_EQ(receiveDatagram(client_.get()), "");
}

TEST_P(UdpEchoTest, IgnoresABlockedSourcePort) {
  ASSERT_TRUE(sendDatagram(blocked_client_.get(), echo_, "from a blocked port"));
  ASSERT_TRUE(sendDatagram(client_.get(), echo_, "from an open port"));
  // The second datagram's echo proves that the listener works, and also that the first one was
  // handled: on loopback an answer to it would be queued on our socket before this one.
  EXPECT_EQ(receiveDatagram(client_.get()), "from an open port");
  // The short grace period only guards the reasoning above; it is not what the test waits for.
  EXPECT_EQ(receiveDatagram(blocked_client_.get(), 100ms), std::nullopt);
}

TEST(UdpEchoDefaultsTest, IgnoresWellKnownServicePortsByDefault) {
  // Binding one of these needs privileges (or a lowered ip_unprivileged_port_start), and it
  // must not be taken by a local service.
  Fd blocked_client;
  for (uint16_t port : {7, 13, 17, 19, 37, 53, 123}) {
    if ((blocked_client = bindUdp(Endpoint::loopback(AF_INET, port))).valid()) {
      break;
    }
  }
  if (!blocked_client.valid()) {
    GTEST_SKIP() << "cannot bind any of the default blocked ports here";
  }
  Fd client = bindUdp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(client.valid());
  Daemon daemon;
  ASSERT_TRUE(daemon.start(R"toml(
[server]
workers = 1

[[listener]]
name = "echo"
protocol = "udp"
address = "127.0.0.1:0"
handler = "echo"
)toml"));
  const Endpoint echo = daemon.listener("echo");
  ASSERT_TRUE(sendDatagram(blocked_client.get(), echo, "from a service port"));
  ASSERT_TRUE(sendDatagram(client.get(), echo, "from an ordinary port"));
  EXPECT_EQ(receiveDatagram(client.get()), "from an ordinary port");
  EXPECT_EQ(receiveDatagram(blocked_client.get(), 100ms), std::nullopt)
      << "answered port " << Endpoint::local(blocked_client.get()).port();
  EXPECT_TRUE(daemon.stop());
}

INSTANTIATE_TEST_SUITE_P(Families, UdpEchoTest, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& info) { return info.param == AF_INET6 ? "IPv6" : "IPv4"; });

}  // namespace
}  // namespace portd::itest
