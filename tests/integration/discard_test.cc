// The discard handler: everything is read, nothing is answered.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

class DiscardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The UDP echo listener serves as a barrier: see DiscardsDatagrams.
    ASSERT_TRUE(daemon_.start(R"toml(
[server]
workers = 1
shutdown_timeout = "5s"

[[listener]]
name = "discard-tcp"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "discard"

[[listener]]
name = "discard-udp"
protocol = "udp"
address = "127.0.0.1:0"
handler = "discard"

[[listener]]
name = "echo-udp"
protocol = "udp"
address = "127.0.0.1:0"
handler = "echo"
)toml"));
  }

  void TearDown() override { EXPECT_TRUE(daemon_.stop()); }

  Daemon daemon_;
};

TEST_F(DiscardTest, ReadsTcpDataAndAnswersNothing) {
  Fd client = connectTcp(daemon_.listener("discard-tcp"));
  ASSERT_TRUE(client.valid());
  ASSERT_TRUE(sendAll(client.get(), std::string(256 * 1024, 'x')));
  ASSERT_EQ(::shutdown(client.get(), SHUT_WR), 0);
  // The daemon closes its side once we closed ours, and nothing precedes the EOF.
  EXPECT_EQ(waitForClose(client.get()), PeerClose::kEof);
}

TEST_F(DiscardTest, DiscardsDatagrams) {
  Fd client = bindUdp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(client.valid());
  ASSERT_TRUE(sendDatagram(client.get(), daemon_.listener("discard-udp"), "discard me"));
  ASSERT_TRUE(sendDatagram(client.get(), daemon_.listener("echo-udp"), "echo me"));
  // An answer from discard would most likely arrive before the echo, as its datagram was sent
  // first; the short wait afterwards catches a late one.
  EXPECT_EQ(receiveDatagram(client.get()), "echo me");
  EXPECT_EQ(receiveDatagram(client.get(), 200ms), std::nullopt);
}

}  // namespace
}  // namespace portd::itest
