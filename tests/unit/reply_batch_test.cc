// Connections answer through their poller's SendBatch: the replies of one wake-up leave in one
// io_uring_enter, byte for byte as direct sends would have left, also when the kernel takes
// only part of them, and a connection that closes after its answer sends it first.

#include <gtest/gtest.h>
#include <netinet/tcp.h>

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "listener_fixture.h"

using namespace portd;

namespace {

class ReplyBatchTest : public test::ListenerTest {
 protected:
  // `n` clients, connected and accepted.
  void connect(size_t n, int rcvbuf = 0) {
    for (size_t i = 0; i < n; ++i) {
      connectClient(rcvbuf);
    }
    ASSERT_TRUE(runUntil([&] { return listener_->connectionCount() == n; }));
  }

  core::SendBatch& batch() { return ctx_->poller().sends(); }

  // Segments client `i` has received so far (tcpi_segs_in, which glibc's tcp_info stops short
  // of: the kernel's layout goes on after tcpi_total_retrans).
  uint32_t segmentsIn(size_t i) {
    struct {
      tcp_info glibc;
      uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
      uint32_t segs_out, segs_in;
    } info{};
    static_assert(offsetof(decltype(info), segs_in) == 140, "Linux's struct tcp_info");
    socklen_t len = sizeof info;
    EXPECT_EQ(::getsockopt(clients_[i], IPPROTO_TCP, TCP_INFO, &info, &len), 0);
    EXPECT_GE(len, offsetof(decltype(info), segs_in) + sizeof info.segs_in);
    return info.segs_in;
  }

  // Reads every client until its stream ends; `got[i]` gets what client i received. False when
  // some stream did not end in time.
  bool readAllToTheEnd(std::vector<std::string>& got) {
    got.assign(clients_.size(), std::string());
    std::vector<bool> ended(clients_.size(), false);
    return runUntil([&] {
      size_t done = 0;
      for (size_t i = 0; i < clients_.size(); ++i) {
        if (!ended[i] && !readInto(i, got[i])) {
          ended[i] = true;
        }
        done += ended[i] ? 1 : 0;
      }
      return done == clients_.size();
    });
  }

  // Reads what client `i` has, appending to `into`; false at the end of the stream.
  bool readInto(size_t i, std::string& into) {
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(clients_[i], buf, sizeof buf, 0)) > 0) {
      into.append(buf, static_cast<size_t>(n));
    }
    return n != 0;
  }
};

TEST_F(ReplyBatchTest, TheRepliesOfOneWakeUpLeaveInOneSystemCall) {
  ASSERT_NO_FATAL_FAILURE(listen("echo"));
  ASSERT_TRUE(batch().enabled()) << std::strerror(batch().error());
  constexpr size_t kClients = 8;
  ASSERT_NO_FATAL_FAILURE(connect(kClients));
  // Every request is in its socket before the loop looks: one epoll_wait finds all eight.
  for (size_t i = 0; i < kClients; ++i) {
    const std::string req = "request " + std::to_string(i);
    ASSERT_EQ(::send(clients_[i], req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  }
  const uint64_t submits = batch().ringSubmits();
  std::vector<std::string> got(kClients);
  ASSERT_TRUE(runUntil([&] {
    size_t done = 0;
    for (size_t i = 0; i < kClients; ++i) {
      readInto(i, got[i]);
      done += got[i] == "request " + std::to_string(i) ? 1 : 0;
    }
    return done == kClients;
  }));
  EXPECT_EQ(batch().ringSubmits(), submits + 1);
  EXPECT_EQ(batch().ringSends(), kClients);
}

TEST_F(ReplyBatchTest, WithoutItEachReplyIsSentAlone) {
  ASSERT_NO_FATAL_FAILURE(listen("echo"));
  batch().enable(false);
  ASSERT_NO_FATAL_FAILURE(connect(4));
  for (int fd : clients_) {
    ASSERT_EQ(::send(fd, "ping", 4, 0), 4);
  }
  std::vector<std::string> got(clients_.size());
  ASSERT_TRUE(runUntil([&] {
    size_t done = 0;
    for (size_t i = 0; i < clients_.size(); ++i) {
      readInto(i, got[i]);
      done += got[i] == "ping" ? 1 : 0;
    }
    return done == clients_.size();
  }));
  EXPECT_EQ(batch().ringSubmits(), 0u);
}

// Two peers that read slowly, through small send buffers on the server's side: their batched
// echoes are taken in part or refused, the rest is queued, and every byte still arrives once,
// in order.
TEST_F(ReplyBatchTest, WhatTheKernelDoesNotTakeIsQueuedAndArrivesInOrder) {
  ASSERT_NO_FATAL_FAILURE(listen("echo", "", 4096));
  ASSERT_NO_FATAL_FAILURE(connect(2, 4096));
  constexpr size_t kTotal = 512 * 1024;
  auto byteAt = [](size_t i, size_t pos) { return static_cast<char>('a' + (pos * 7 + i) % 26); };
  std::vector<size_t> sent(2, 0);
  std::vector<std::string> got(2);
  ASSERT_TRUE(runUntil(
      [&] {
        for (size_t i = 0; i < 2; ++i) {
          // Pieces the batch takes whole (up to 16 KiB) but a small send buffer and window
          // cannot: each echo is taken in part.
          if (sent[i] < kTotal) {
            std::string piece(std::min<size_t>(16000, kTotal - sent[i]), '\0');
            for (size_t k = 0; k < piece.size(); ++k) {
              piece[k] = byteAt(i, sent[i] + k);
            }
            const ssize_t n = ::send(clients_[i], piece.data(), piece.size(), MSG_NOSIGNAL);
            if (n > 0) {
              sent[i] += static_cast<size_t>(n);
            }
          }
          // Reads a little at a time: the server's socket stays close to full.
          char buf[4096];
          const ssize_t r = ::recv(clients_[i], buf, sizeof buf, 0);
          if (r > 0) {
            got[i].append(buf, static_cast<size_t>(r));
          }
        }
        return got[0].size() == kTotal && got[1].size() == kTotal;
      },
      20000))
      << got[0].size() << " " << got[1].size();
  for (size_t i = 0; i < 2; ++i) {
    for (size_t pos = 0; pos < kTotal; ++pos) {
      ASSERT_EQ(got[i][pos], byteAt(i, pos)) << "client " << i << " at " << pos;
    }
  }
  EXPECT_GT(batch().ringSends(), 0u);
}

// A handler stops at the write limit and waits for onWritable(): the batch must never be what
// makes it stop, or nothing would ever call it back. 200 pipelined requests, their answers
// more than six times the limit.
TEST_F(ReplyBatchTest, AHandlerAtTheWriteLimitIsCalledBackWhenTheBatchHasSentIt) {
  ASSERT_NO_FATAL_FAILURE(listen("http", "write_buffer_limit = \"4KiB\"\n"));
  ASSERT_NO_FATAL_FAILURE(connect(1));
  std::string requests;
  for (int i = 0; i < 200; ++i) {
    requests += "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  ASSERT_EQ(::send(clients_[0], requests.data(), requests.size(), 0),
            static_cast<ssize_t>(requests.size()));
  std::string got;
  auto answers = [&] {
    size_t n = 0;
    for (size_t at = got.find("HTTP/1.1 404"); at != std::string::npos;
         at = got.find("HTTP/1.1 404", at + 1)) {
      ++n;
    }
    return n;
  };
  ASSERT_TRUE(runUntil([&] {
    readInto(0, got);
    return answers() == 200;
  })) << answers()
      << " answers of 200";
  EXPECT_GT(got.size(), 4u * 4096);
}

// Answers, then aborts: what a handler does on a request it refuses outright.
struct WriteThenAbort : net::Handler, net::HandlerConfig {
  void onData(net::Connection& conn, std::string_view /*data*/) override {
    conn.write("refused\n");
    conn.abort();
  }
  std::unique_ptr<net::Handler> createInstance(const net::InstanceContext&) const override {
    return std::make_unique<WriteThenAbort>();
  }
};

TEST_F(ReplyBatchTest, WhatAnAbortedConnectionWroteInTheBatchStillLeaves) {
  handler_ = std::make_shared<WriteThenAbort>();
  ASSERT_NO_FATAL_FAILURE(listen("echo"));
  ASSERT_NO_FATAL_FAILURE(connect(3));
  std::vector<uint32_t> segments;
  for (size_t i = 0; i < clients_.size(); ++i) {
    segments.push_back(segmentsIn(i));
  }
  for (int fd : clients_) {
    ASSERT_EQ(::send(fd, "x", 1, 0), 1);
  }
  std::vector<std::string> got;
  ASSERT_TRUE(readAllToTheEnd(got));
  for (size_t i = 0; i < clients_.size(); ++i) {
    EXPECT_EQ(got[i], "refused\n");
    // The answer and the FIN in one segment, after the ACK of the request (3 with the FIN
    // on its own).
    EXPECT_LE(segmentsIn(i) - segments[i], 2u) << "client " << i;
  }
  EXPECT_GT(batch().ringSends(), 0u);
}

TEST_F(ReplyBatchTest, AConnectionThatClosesAfterItsAnswerSendsItFirst) {
  ASSERT_NO_FATAL_FAILURE(listen("http"));
  constexpr size_t kClients = 4;
  ASSERT_NO_FATAL_FAILURE(connect(kClients));
  const std::string req = "GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::vector<uint32_t> segments;
  for (size_t i = 0; i < kClients; ++i) {
    segments.push_back(segmentsIn(i));
  }
  for (int fd : clients_) {
    ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  }
  std::vector<std::string> got;
  ASSERT_TRUE(readAllToTheEnd(got));
  for (const std::string& g : got) {
    EXPECT_EQ(g.rfind("HTTP/1.1 404", 0), 0u) << g;
    const size_t head_end = g.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos) << g;
    const size_t length_at = g.find("Content-Length: ");
    ASSERT_NE(length_at, std::string::npos) << g;
    EXPECT_EQ(g.size() - head_end - 4, std::stoul(g.substr(length_at + 16))) << g;
  }
  for (size_t i = 0; i < kClients; ++i) {
    EXPECT_LE(segmentsIn(i) - segments[i], 2u) << "client " << i << ": the FIN came on its own";
  }
  EXPECT_GT(batch().ringSends(), 0u);
  EXPECT_TRUE(runUntil([&] { return listener_->connectionCount() == 0; }));
}

// Answers with 16,000 bytes (what the batch takes whole), then closes.
struct WriteThenClose : net::Handler, net::HandlerConfig {
  void onData(net::Connection& conn, std::string_view /*data*/) override {
    std::string answer(16000, '\0');
    for (size_t i = 0; i < answer.size(); ++i) {
      answer[i] = static_cast<char>('a' + i % 26);
    }
    conn.write(answer);
    conn.close();
  }
  std::unique_ptr<net::Handler> createInstance(const net::InstanceContext&) const override {
    return std::make_unique<WriteThenClose>();
  }
};

// Through small buffers the kernel takes the closing answer only in part, sent with MSG_MORE:
// what it holds back must still leave (the rest, sent later without MSG_MORE, pushes it), or
// the client would wait for the idle timeout.
TEST_F(ReplyBatchTest, AClosingAnswerTheKernelTakesInPartStillArrivesWhole) {
  handler_ = std::make_shared<WriteThenClose>();
  ASSERT_NO_FATAL_FAILURE(listen("echo", "", 4096));
  ASSERT_NO_FATAL_FAILURE(connect(2, 4096));
  for (int fd : clients_) {
    ASSERT_EQ(::send(fd, "x", 1, 0), 1);
  }
  std::vector<std::string> got;
  ASSERT_TRUE(readAllToTheEnd(got)) << got[0].size() << " " << got[1].size();
  for (const std::string& g : got) {
    ASSERT_EQ(g.size(), 16000u);
    for (size_t i = 0; i < g.size(); ++i) {
      ASSERT_EQ(g[i], static_cast<char>('a' + i % 26)) << "at " << i;
    }
  }
  EXPECT_GT(batch().ringSends(), 0u);
}

// Answers and closes while more input arrives unread: close() then resets the connection, and
// throws away what the kernel held back for the FIN, unless the write side was shut down first.
struct AnswerWhileMoreArrives : net::Handler, net::HandlerConfig {
  void onData(net::Connection& conn, std::string_view /*data*/) override {
    conn.write("answer\n");
    EXPECT_EQ(::send(*client, "late", 4, 0), 4);  // in the server's socket before the close
    conn.close();
  }
  std::unique_ptr<net::Handler> createInstance(const net::InstanceContext&) const override {
    auto h = std::make_unique<AnswerWhileMoreArrives>();
    h->client = client;
    return h;
  }
  std::shared_ptr<int> client = std::make_shared<int>(-1);  // the test's client socket
};

TEST_F(ReplyBatchTest, AClosingAnswerArrivesEvenWhenUnreadInputResetsTheConnection) {
  auto handler = std::make_shared<AnswerWhileMoreArrives>();
  handler_ = handler;
  ASSERT_NO_FATAL_FAILURE(listen("echo"));
  ASSERT_NO_FATAL_FAILURE(connect(1));
  *handler->client = clients_[0];
  ASSERT_EQ(::send(clients_[0], "x", 1, 0), 1);
  std::string got;
  int error = 0;
  ASSERT_TRUE(runUntil([&] {
    char buf[256];
    const ssize_t n = ::recv(clients_[0], buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      return false;
    }
    error = n < 0 ? errno : 0;
    return n == 0 || errno != EAGAIN;
  }));
  EXPECT_EQ(got, "answer\n") << "ended with " << std::strerror(error);
}

// A batch of one leaves with send() (and shutdown()), not through the ring: its FIN goes with
// it all the same.
TEST_F(ReplyBatchTest, AClosingAnswerSentAloneCarriesItsFin) {
  ASSERT_NO_FATAL_FAILURE(listen("http"));
  ASSERT_NO_FATAL_FAILURE(connect(1));
  const uint32_t before = segmentsIn(0);
  const uint64_t submits = batch().ringSubmits();
  const std::string req = "GET /nothing-here HTTP/1.0\r\n\r\n";
  ASSERT_EQ(::send(clients_[0], req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string got;
  ASSERT_TRUE(runUntil([&] { return !readInto(0, got); }));
  EXPECT_EQ(got.rfind("HTTP/1.1 404", 0), 0u) << got;
  EXPECT_LE(segmentsIn(0) - before, 2u) << "the FIN came on its own";
  EXPECT_EQ(batch().ringSubmits(), submits);
}

}  // namespace
