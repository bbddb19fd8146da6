// A peer that sends but never reads must not make the daemon buffer without bound: once a
// connection's queued output passes write_buffer_limit, reading stops, and it resumes when the
// peer catches up.

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "core/loop_context.h"
#include "loop_fixture.h"
#include "net/tcp_listener.h"
#include "test_support.h"

using namespace portd;

class BackpressureTest : public LoopTest {};

TEST_F(BackpressureTest, StopsReadingWhileThePeerDoesNotRead) {
  const uint64_t kLimit = 64 * 1024;
  auto cfg = test::oneListener("tcp", "echo", "write_buffer_limit = \"64KiB\"\n");
  core::LoopContext ctx(loop(), 0);
  net::Address addr;
  int fd = test::boundSocket(cfg->listeners[0], &addr);
  {
    net::TcpListener listener(ctx, cfg->listeners[0].settings(1), config::sharedHandler(cfg, 0));
    ASSERT_EQ(listener.listen(fd), 0);

    // A small receive buffer on the client makes the server's output back up quickly.
    int client = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int small = 4096;
    setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ::connect(client, addr.sockaddr_ptr(), addr.length());
    ASSERT_TRUE(runUntil([&] { return listener.connectionCount() == 1; }));

    net::Connection* conn = nullptr;
    listener.forEachConnection([&](net::Connection& c) { conn = &c; });
    std::vector<char> chunk(16 * 1024, 'x');
    size_t sent = 0;
    auto pump = [&] {
      ssize_t n = ::send(client, chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      }
      uv_run(loop(), UV_RUN_NOWAIT);
    };
    ASSERT_TRUE(runUntil([&] {
      pump();
      return !conn->isReading();
    })) << "reading never stopped; queued "
        << conn->queuedBytes();

    // Keep pushing: the kernel buffers fill and the client blocks, but the daemon's queue does
    // not grow past the limit plus the one read that crossed it.
    for (int i = 0; i < 200; ++i) {
      pump();
    }
    EXPECT_FALSE(conn->isReading());
    EXPECT_LE(conn->queuedBytes(), kLimit + core::LoopContext::kReadBlock);
    EXPECT_LE(ctx.writePool().outstanding() * core::LoopContext::kWriteBlock,
              kLimit + 2 * core::LoopContext::kReadBlock);
    EXPECT_GT(sent, kLimit);

    // The peer starts reading: the queue drains below half the limit and reading resumes.
    std::vector<char> sink(256 * 1024);
    size_t received = 0;
    ASSERT_TRUE(runUntil([&] {
      ssize_t n = ::recv(client, sink.data(), sink.size(), 0);
      if (n > 0) {
        received += static_cast<size_t>(n);
      }
      uv_run(loop(), UV_RUN_NOWAIT);
      return conn->isReading();
    }));
    EXPECT_LE(conn->queuedBytes(), kLimit / 2);

    // Everything sent comes back once the client stops sending.
    ::shutdown(client, SHUT_WR);
    ASSERT_TRUE(runUntil([&] {
      ssize_t n = ::recv(client, sink.data(), sink.size(), 0);
      if (n > 0) {
        received += static_cast<size_t>(n);
      }
      uv_run(loop(), UV_RUN_NOWAIT);
      return received == sent;
    })) << "received "
        << received << " of " << sent;
    ::close(client);
    ASSERT_TRUE(runUntil([&] { return listener.connectionCount() == 0; }));
  }
  EXPECT_EQ(ctx.writePool().outstanding(), 0u);
  EXPECT_EQ(ctx.readPool().outstanding(), 0u);
}

TEST_F(BackpressureTest, ReadBuffersComeFromThePool) {
  auto cfg = test::oneListener("tcp", "echo");
  core::LoopContext ctx(loop(), 0);
  net::Address addr;
  int fd = test::boundSocket(cfg->listeners[0], &addr);
  net::TcpListener listener(ctx, cfg->listeners[0].settings(1), config::sharedHandler(cfg, 0));
  ASSERT_EQ(listener.listen(fd), 0);
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
  ASSERT_TRUE(runUntil([&] { return listener.connectionCount() == 0; }));
}

// Reading stops when the queue reaches the limit, not only past it: the C ABI refuses a write
// once the queue is at the limit, so a handler that answers each read with one write (echo)
// would have its next read refused and lost. Output that leaves exactly the limit queued must
// stop reading.
TEST_F(BackpressureTest, ReadingStopsWhenTheQueueReachesTheLimitExactly) {
  const size_t kLimit = 64 * 1024;
  auto cfg = test::oneListener("tcp", "echo", "write_buffer_limit = \"64KiB\"\n");
  core::LoopContext ctx(loop(), 0);
  net::Address addr;
  int fd = test::boundSocket(cfg->listeners[0], &addr);
  {
    net::TcpListener listener(ctx, cfg->listeners[0].settings(1), config::sharedHandler(cfg, 0));
    ASSERT_EQ(listener.listen(fd), 0);
    int client = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int small = 4096;
    setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ::connect(client, addr.sockaddr_ptr(), addr.length());
    ASSERT_TRUE(runUntil([&] { return listener.connectionCount() == 1; }));
    net::Connection* conn = nullptr;
    listener.forEachConnection([&](net::Connection& c) { conn = &c; });
    ASSERT_TRUE(conn->isReading());
    // Fill the kernel's buffers (the client reads nothing) until output starts to queue.
    const std::string kib(1024, 'x');
    for (int i = 0; i < 100000 && conn->queuedBytes() == 0; ++i) {
      ASSERT_TRUE(conn->write(kib));
    }
    ASSERT_GT(conn->queuedBytes(), 0u);
    ASSERT_LT(conn->queuedBytes(), kLimit);
    ASSERT_TRUE(conn->isReading());
    ASSERT_TRUE(conn->write(std::string(kLimit - conn->queuedBytes(), 'y')));
    EXPECT_EQ(conn->queuedBytes(), kLimit);
    EXPECT_FALSE(conn->isReading()) << "the queue is at the limit";
    ::close(client);
    ASSERT_TRUE(runUntil([&] { return listener.connectionCount() == 0; }));
  }
}
