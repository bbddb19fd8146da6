#include "net/listen_tuning.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "net/socket.h"

namespace portd::net {
namespace {

using namespace std::chrono_literals;

class ListenTuningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    fd_ = openBoundSocket(Transport::kTcp, *Address::parse("127.0.0.1:0", &error), &error);
    ASSERT_GE(fd_, 0) << error;
    ASSERT_EQ(::listen(fd_, 511), 0);
  }
  void TearDown() override {
    for (int c : clients_) {
      ::close(c);
    }
    ::close(fd_);
  }
  // A connection the listener completes but nobody accepts.
  void connectOne() {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(c, 0);
    Address to = localAddress(fd_);
    ASSERT_EQ(::connect(c, to.sockaddr_ptr(), to.length()), 0);
    clients_.push_back(c);
  }
  // The queue's length once it reaches `n` (the server's half of a handshake may trail the
  // client's connect() by a moment), or what it is after a second.
  uint32_t waitForLength(uint32_t n) {
    auto deadline = std::chrono::steady_clock::now() + 1s;
    std::optional<ListenQueue> q;
    while ((q = readListenQueue(fd_)) && q->length < n &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    return q ? q->length : UINT32_MAX;
  }

  int fd_ = -1;
  std::vector<int> clients_;
};

TEST_F(ListenTuningTest, AppliedSettingsReadBack) {
  SocketTuning before;
  std::string error;
  ASSERT_TRUE(readTuning(fd_, &before, &error)) << error;
  EXPECT_EQ(before.backlog, 511u);
  EXPECT_EQ(before.defer_accept, 0u);

  ASSERT_TRUE(applyTuning(fd_, {64, 5, 16}, &error)) << error;
  SocketTuning after;
  ASSERT_TRUE(readTuning(fd_, &after, &error)) << error;
  EXPECT_EQ(after.backlog, 64u) << "listen() again changes a listening socket's backlog";
  EXPECT_EQ(after.defer_accept, 7u) << "5 s is 3 SYN-ACK retransmissions: 1 + 2 + 4 s";
  EXPECT_EQ(after.fastopen, 16u);

  // And back off, as a reload that removes the keys does with the socket's own settings.
  ASSERT_TRUE(applyTuning(fd_, before, &error)) << error;
  ASSERT_TRUE(readTuning(fd_, &after, &error)) << error;
  EXPECT_EQ(after, before);
}

TEST_F(ListenTuningTest, TheQueueCountsConnectionsNotYetAccepted) {
  std::string error;
  ASSERT_TRUE(applyTuning(fd_, {3, 0, 0}, &error)) << error;
  std::optional<ListenQueue> q = readListenQueue(fd_);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->length, 0u);
  EXPECT_EQ(q->limit, 3u);
  connectOne();
  connectOne();
  EXPECT_EQ(waitForLength(2), 2u);
  int accepted = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  ::close(accepted);
  EXPECT_EQ(readListenQueue(fd_)->length, 1u);
}

TEST_F(ListenTuningTest, OnlyListeningTcpSocketsHaveAQueue) {
  int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  EXPECT_FALSE(readListenQueue(udp));
  ::close(udp);
  int idle = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_FALSE(readListenQueue(idle)) << "not listening";
  SocketTuning t;
  std::string error;
  EXPECT_FALSE(readTuning(idle, &t, &error));
  EXPECT_NE(error.find("TCP_INFO"), std::string::npos) << error;
  ::close(idle);
  EXPECT_FALSE(readListenQueue(-1));
}

}  // namespace
}  // namespace portd::net
