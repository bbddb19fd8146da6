// A peer that sends but never reads must not make the daemon buffer without bound: once a
// connection's queued output passes write_buffer_limit, reading stops, and it resumes when the
// peer catches up.

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <vector>

#include "core/loop_context.h"
#include "listener_fixture.h"

using namespace portd;

class BackpressureTest : public test::ListenerTest {
 protected:
  static constexpr size_t kLimit = 64 * 1024;

  // An echo listener with write_buffer_limit = kLimit and one client connected to it, whose
  // small receive buffer makes the server's output back up quickly. conn_ is the server's side.
  void listenWithSmallWindowClient() {
    ASSERT_NO_FATAL_FAILURE(listen("echo", "write_buffer_limit = \"64KiB\"\n"));
    client_ = connectClient(4096);
    ASSERT_TRUE(runUntil([&] { return listener_->connectionCount() == 1; }));
    listener_->forEachConnection([&](net::Connection& c) { conn_ = &c; });
  }

  int client_ = -1;
  net::Connection* conn_ = nullptr;
};

TEST_F(BackpressureTest, StopsReadingWhileThePeerDoesNotRead) {
  ASSERT_NO_FATAL_FAILURE(listenWithSmallWindowClient());
  std::vector<char> chunk(16 * 1024, 'x');
  size_t sent = 0;
  auto pump = [&] {
    ssize_t n = ::send(client_, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    }
    uv_run(loop(), UV_RUN_NOWAIT);
  };
  ASSERT_TRUE(runUntil([&] {
    pump();
    return !conn_->isReading();
  })) << "reading never stopped; queued "
      << conn_->queuedBytes();

  // Keep pushing: the kernel buffers fill and the client blocks, but the daemon's queue does
  // not grow past the limit plus the one read that crossed it.
  for (int i = 0; i < 200; ++i) {
    pump();
  }
  EXPECT_FALSE(conn_->isReading());
  EXPECT_LE(conn_->queuedBytes(), kLimit + core::LoopContext::kReadBlock);
  EXPECT_LE(ctx_->writePool().outstanding() * core::LoopContext::kWriteBlock,
            kLimit + 2 * core::LoopContext::kReadBlock);
  EXPECT_GT(sent, kLimit);

  // The peer starts reading: the queue drains below half the limit and reading resumes.
  std::vector<char> sink(256 * 1024);
  size_t received = 0;
  ASSERT_TRUE(runUntil([&] {
    ssize_t n = ::recv(client_, sink.data(), sink.size(), 0);
    if (n > 0) {
      received += static_cast<size_t>(n);
    }
    uv_run(loop(), UV_RUN_NOWAIT);
    return conn_->isReading();
  }));
  EXPECT_LE(conn_->queuedBytes(), kLimit / 2);

  // Everything sent comes back once the client stops sending.
  ::shutdown(client_, SHUT_WR);
  ASSERT_TRUE(runUntil([&] {
    ssize_t n = ::recv(client_, sink.data(), sink.size(), 0);
    if (n > 0) {
      received += static_cast<size_t>(n);
    }
    uv_run(loop(), UV_RUN_NOWAIT);
    return received == sent;
  })) << "received "
      << received << " of " << sent;
  ASSERT_NO_FATAL_FAILURE(closeClientsAndListener());
  EXPECT_EQ(ctx_->writePool().outstanding(), 0u);
  EXPECT_EQ(ctx_->readPool().outstanding(), 0u);
}

TEST_F(BackpressureTest, ReadBuffersComeFromThePool) {
  auto cfg = test::oneListener("tcp", "echo");
  core::LoopContext ctx(loop(), 0);
  net::Address addr;
  std::unique_ptr<net::TcpListener> listener = test::listening(ctx, cfg, &addr);
  ASSERT_NE(listener, nullptr);
  int client = test::nonBlockingClient(SOCK_STREAM, addr);
  char buf[64];
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(runUntil([&] { return ::send(client, "ping", 4, MSG_NOSIGNAL) == 4; }));
    ASSERT_TRUE(runUntil([&] { return ::recv(client, buf, sizeof buf, 0) == 4; }));
  }
  // A thousand reads, one buffer: the hot path did not allocate.
  EXPECT_EQ(ctx.readPool().allocations(), 1u);
  EXPECT_EQ(ctx.writePool().allocations(), 0u);
  ::close(client);
  ASSERT_TRUE(runUntil([&] { return listener->connectionCount() == 0; }));
}

// Reading stops when the queue reaches the limit, not only past it: the C ABI refuses a write
// once the queue is at the limit, so a handler that answers each read with one write (echo)
// would have its next read refused and lost. Output that leaves exactly the limit queued must
// stop reading.
TEST_F(BackpressureTest, ReadingStopsWhenTheQueueReachesTheLimitExactly) {
  ASSERT_NO_FATAL_FAILURE(listenWithSmallWindowClient());
  ASSERT_TRUE(conn_->isReading());
  // Fill the kernel's buffers (the client reads nothing) until output starts to queue.
  const std::string kib(1024, 'x');
  for (int i = 0; i < 100000 && conn_->queuedBytes() == 0; ++i) {
    ASSERT_TRUE(conn_->write(kib));
  }
  ASSERT_GT(conn_->queuedBytes(), 0u);
  ASSERT_LT(conn_->queuedBytes(), kLimit);
  ASSERT_TRUE(conn_->isReading());
  ASSERT_TRUE(conn_->write(std::string(kLimit - conn_->queuedBytes(), 'y')));
  EXPECT_EQ(conn_->queuedBytes(), kLimit);
  EXPECT_FALSE(conn_->isReading()) << "the queue is at the limit";
  ASSERT_NO_FATAL_FAILURE(closeClientsAndListener());
}
