#include "net/udp_socket.h"

#include <gtest/gtest.h>

#include "core/loop_context.h"
#include "loop_fixture.h"
#include "test_support.h"

using namespace portd;

class UdpSocketTest : public LoopTest {};

TEST_F(UdpSocketTest, EchoesABatchInOrder) {
  auto cfg = test::oneListener("udp", "echo");
  core::LoopContext ctx(loop(), 0);
  net::Address addr;
  int fd = test::boundSocket(cfg->listeners[0], &addr);
  net::UdpSocket socket(ctx, cfg->listeners[0].settings(1), config::sharedHandler(cfg, 0));
  ASSERT_EQ(socket.open(fd), 0);

  int client = test::nonBlockingClient(SOCK_DGRAM, addr);
  // Sent before the loop runs, so that one recvmmsg call picks up several.
  for (int i = 0; i < 50; ++i) {
    std::string msg = "datagram " + std::to_string(i);
    ASSERT_EQ(::send(client, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
  }
  int got = 0;
  char buf[128];
  ASSERT_TRUE(runUntil([&] {
    ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n > 0) {
      EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "datagram " + std::to_string(got));
      ++got;
    }
    return got == 50;
  }));
  EXPECT_EQ(socket.stats().datagrams_in.load(), 50u);
  EXPECT_EQ(socket.stats().datagrams_out.load(), 50u);
  ::close(client);
}

TEST_F(UdpSocketTest, DiscardAnswersNothing) {
  auto cfg = test::oneListener("udp", "discard");
  core::LoopContext ctx(loop(), 0);
  net::Address addr;
  int fd = test::boundSocket(cfg->listeners[0], &addr);
  net::UdpSocket socket(ctx, cfg->listeners[0].settings(1), config::sharedHandler(cfg, 0));
  ASSERT_EQ(socket.open(fd), 0);
  int client = test::nonBlockingClient(SOCK_DGRAM, addr);
  ASSERT_EQ(::send(client, "x", 1, 0), 1);
  ASSERT_TRUE(runUntil([&] { return socket.stats().datagrams_in.load() == 1; }));
  char buf[8];
  EXPECT_EQ(::recv(client, buf, sizeof buf, 0), -1);
  EXPECT_EQ(socket.stats().datagrams_out.load(), 0u);
  ::close(client);
}
