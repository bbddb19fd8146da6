// The http handler in-process, on a loop run by the test: the one-write rule for pipelined
// requests, no heap allocation per request once a connection is warm, and output bounded by
// write_buffer_limit for a peer that does not read.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/loop_context.h"
#include "handlers/http/http_handler.h"
#include "loop_fixture.h"
#include "net/tcp_listener.h"
#include "test_support.h"

using namespace portd;

// Every allocation of this test binary: C++ operator new, and libuv's through
// uv_replace_allocator() (installed by main() below, before libuv allocates anything).
namespace {
std::atomic<uint64_t> g_allocations{0};
void* countedMalloc(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* countedRealloc(void* p, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void* countedCalloc(size_t c, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::calloc(c, n);
}
}  // namespace

void* operator new(std::size_t size) {
  void* p = countedMalloc(size == 0 ? 1 : size);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}
// The replacement operator new above allocates with malloc, so free is its match. GCC, once it
// can see a new and a delete of the same object inlined into this file, takes the pair for a
// mismatch of new and free.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

int main(int argc, char** argv) {
  uv_replace_allocator(&countedMalloc, &countedRealloc, &countedCalloc, &std::free);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

namespace {

const char* kOptions = R"(
[listener.options]
[[listener.options.route]]
path = "/hello"
body = "hello, world\n"
headers = ["Cache-Control: no-store"]
)";

class HttpSessionTest : public LoopTest {
 protected:
  // The listener's keys and options, after its handler line.
  virtual std::string listenerText() const { return kOptions; }

  void SetUp() override {
    LoopTest::SetUp();
    cfg_ = test::oneListener("tcp", "http", listenerText());
    ctx_.emplace(loop(), 0);
    listener_ = test::listening(*ctx_, cfg_, &addr_);
    ASSERT_NE(listener_, nullptr);
    client_ = test::nonBlockingClient(SOCK_STREAM, addr_);
    ASSERT_TRUE(runUntil([&] { return listener_->connectionCount() == 1; }));
  }

  // Sends `request` on a new connection in two writes split at `split`, each read by the daemon
  // before the next is sent, and returns the status line of the answer.
  std::string splitExchange(const std::string& request, size_t split) {
    const uint64_t accepted = listener_->stats().accepted.load();
    int fd = test::nonBlockingClient(SOCK_STREAM, addr_);
    EXPECT_TRUE(runUntil([&] { return listener_->stats().accepted.load() == accepted + 1; }));
    const uint64_t bytes_in = listener_->stats().bytes_in.load();
    EXPECT_EQ(::send(fd, request.data(), split, MSG_NOSIGNAL), static_cast<ssize_t>(split));
    EXPECT_TRUE(runUntil([&] { return listener_->stats().bytes_in.load() == bytes_in + split; }));
    const size_t rest = request.size() - split;
    EXPECT_EQ(::send(fd, request.data() + split, rest, MSG_NOSIGNAL), static_cast<ssize_t>(rest));
    std::string got;
    EXPECT_TRUE(runUntil([&] {
      ssize_t n = ::recv(fd, buf_, sizeof buf_, 0);
      if (n > 0) {
        got.append(buf_, static_cast<size_t>(n));
      }
      return got.find("\r\n") != std::string::npos;
    }));
    ::close(fd);
    return got.substr(0, got.find("\r\n"));
  }

  // splitExchange() at every byte boundary of `request`: each must get `status_line`.
  void expectEverywhere(const std::string& request, const std::string& status_line) {
    for (size_t split = 1; split < request.size(); ++split) {
      ASSERT_EQ(splitExchange(request, split), status_line) << "split after byte " << split;
    }
  }

  void TearDown() override {
    ::close(client_);
    // The destructor alone would leave the listening descriptor open.
    listener_->stopAccepting();
    // As a worker ends: the pool's timers (a lingering connection's) close first, and their
    // handles, which the pool owns, finish closing before it goes.
    if (ctx_) {
      ctx_->timers().close();
    }
    listener_.reset();
    uv_run(loop(), UV_RUN_NOWAIT);
    ctx_.reset();  // its poller's libuv handles close with it
    LoopTest::TearDown();
  }

  handlers::http::HttpHandler& handler() {
    return dynamic_cast<handlers::http::HttpHandler&>(listener_->handler());
  }

  // Sends `request` in one send() and turns the loop until `expect` response bytes are back.
  // Allocates nothing itself, so that what it measures is the server's.
  size_t exchange(const std::string& request, size_t expect) {
    EXPECT_EQ(::send(client_, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    size_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (got < expect || expect == 0) {
      uv_run(loop(), UV_RUN_NOWAIT);
      ssize_t n = ::recv(client_, buf_, sizeof buf_, 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
        if (expect == 0 && got > 0) {
          // Unknown length: take what one read of the loop produced, after a few more turns.
          for (int i = 0; i < 20; ++i) {
            uv_run(loop(), UV_RUN_NOWAIT);
            n = ::recv(client_, buf_, sizeof buf_, 0);
            got += n > 0 ? static_cast<size_t>(n) : 0;
          }
          break;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) {
        break;
      }
    }
    return got;
  }

  std::shared_ptr<const config::Config> cfg_;
  std::optional<core::LoopContext> ctx_;
  std::unique_ptr<net::TcpListener> listener_;
  net::Address addr_;
  int client_ = -1;
  char buf_[256 * 1024];
};

std::string request(const char* path, const char* method = "GET") {
  return std::string(method) + " " + path + " HTTP/1.1\r\nHost: portd\r\nUser-Agent: test\r\n\r\n";
}

TEST_F(HttpSessionTest, PipelinedRequestsReadTogetherLeaveInOneWrite) {
  const std::string batch = request("/hello") + request("/nope") + request("/hello", "HEAD") +
                            request("/echo?status=202&header=X-A:b");
  const size_t expect = exchange(batch, 0);
  ASSERT_GT(expect, 0u);
  const uint64_t writes = handler().stats().writes;
  const uint64_t ok = handler().stats().responsesOfClass(2);
  // The four requests go out in one send(), so the daemon reads them in one read.
  EXPECT_EQ(exchange(batch, expect), expect);
  EXPECT_EQ(handler().stats().writes, writes + 1) << "four responses, one write";
  EXPECT_EQ(handler().stats().responsesOfClass(2), ok + 3);
  EXPECT_EQ(handler().stats().requests(), 8u);
}

TEST_F(HttpSessionTest, SteadyStateAllocatesNothing) {
  const std::string batch = request("/hello") + request("/nope") + request("/hello", "HEAD");
  size_t expect = exchange(batch, 0);
  ASSERT_GT(expect, 0u);
  // Warm-up: buffers reach their working size.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(exchange(batch, expect), expect);
  }
  const uint64_t before = g_allocations.load();
  for (int i = 0; i < 200; ++i) {
    if (exchange(batch, expect) != expect) {
      ADD_FAILURE() << "exchange " << i << " came back short";
      break;
    }
  }
  EXPECT_EQ(g_allocations.load() - before, 0u) << "heap allocations in 600 fixed-route requests";
  EXPECT_EQ(handler().stats().requests(), 633u);
  EXPECT_EQ(handler().stats().latencyCount(), 633u);
}

TEST_F(HttpSessionTest, SteadyStateEchoAllocatesNothing) {
  const std::string batch =
      // 202 Accepted and 409 Conflict: the same length whichever is drawn.
      request("/echo/x?status=202:50,409&size=100&header=X-Knob:v") +
      "POST /echo HTTP/1.1\r\nHost: portd\r\nContent-Length: 5\r\n\r\nhello";
  size_t expect = exchange(batch, 0);
  ASSERT_GT(expect, 0u);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(exchange(batch, expect), expect);
  }
  const uint64_t before = g_allocations.load();
  for (int i = 0; i < 100; ++i) {
    if (exchange(batch, expect) != expect) {
      ADD_FAILURE() << "exchange " << i << " came back short";
      break;
    }
  }
  EXPECT_EQ(g_allocations.load() - before, 0u) << "heap allocations in 200 echo requests";
}

// The checks portd adds to llhttp's look at the input around read boundaries: they must hold
// wherever the reads split the request.
TEST_F(HttpSessionTest, ObsFoldIsRefusedWhereverTheReadsSplitIt) {
  expectEverywhere("GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nX-B: c\r\n\r\n",
                   "HTTP/1.1 400 Bad Request");
  expectEverywhere("GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a b\r\nX-B: c\r\n\r\n",
                   "HTTP/1.1 200 OK");
}

TEST_F(HttpSessionTest, BareLfEndIsRefusedWhereverTheReadsSplitIt) {
  expectEverywhere("GET /hello HTTP/1.1\r\nHost: x\r\n\n", "HTTP/1.1 400 Bad Request");
  expectEverywhere(
      "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nX-T: v\r\n\n",
      "HTTP/1.1 400 Bad Request");
  expectEverywhere(
      "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nX-T: v\r\n\r\n",
      "HTTP/1.1 200 OK");
}

TEST_F(HttpSessionTest, HeadLimitHoldsWhereverTheReadsSplitIt) {
  // 16 KiB is the default limit; a head one byte over it is refused however it arrives.
  std::string head = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  std::string exact = head + std::string(16 * 1024 - head.size() - end.size(), 'p') + end;
  std::string over = head + std::string(16 * 1024 - head.size() - end.size() + 1, 'p') + end;
  for (size_t split : {size_t{1}, size_t{40}, size_t{8000}, exact.size() - 3, exact.size() - 1}) {
    EXPECT_EQ(splitExchange(exact, split), "HTTP/1.1 200 OK") << split;
    EXPECT_EQ(splitExchange(over, split), "HTTP/1.1 431 Request Header Fields Too Large") << split;
  }
}

// A small write limit, so that a peer that does not read fills it quickly.
class HttpSessionOutputTest : public HttpSessionTest {
 protected:
  static constexpr size_t kLimit = 64 * 1024;
  std::string listenerText() const override {
    return "write_buffer_limit = \"64KiB\"\n" + std::string(kOptions);
  }

  size_t queued() {
    size_t n = 0;
    listener_->forEachConnection([&](const net::Connection& c) { n += c.queuedBytes(); });
    return n;
  }
};

// The Content-Length of each complete response in `raw` from `*pos` on, in order; *pos moves
// past them.
void takeResponses(const std::string& raw, size_t* pos, std::vector<size_t>* lengths) {
  for (;;) {
    const size_t head_end = raw.find("\r\n\r\n", *pos);
    if (head_end == std::string::npos) {
      return;
    }
    std::string_view head(raw.data() + *pos, head_end - *pos);
    const size_t at = head.find("Content-Length: ");
    if (!head.starts_with("HTTP/1.1 200 ") || at == std::string_view::npos) {
      ADD_FAILURE() << "unexpected response: " << head;
      *pos = raw.size();
      return;
    }
    const size_t length = std::stoul(std::string(head.substr(at + 16)));
    if (raw.size() < head_end + 4 + length) {
      return;
    }
    lengths->push_back(length);
    *pos = head_end + 4 + length;
  }
}

// A thousand pipelined requests for 64 KiB answers arrive in one read, 64 MiB of output, and
// the peer does not read. The session stops taking requests once the output is over the limit
// and answers the rest as the peer reads, every one once and in order. The first answer is
// delayed, so that the requests kept behind a delay meet the limit as well.
TEST_F(HttpSessionOutputTest, OutputOfPipelinedRequestsStaysWithinTheWriteLimit) {
  constexpr size_t kRequests = 1000;
  constexpr size_t kBase = 64 * 1024;
  std::string batch;
  for (size_t i = 0; i < kRequests; ++i) {
    batch += "GET /echo?size=" + std::to_string(kBase + i) + (i == 0 ? "&delay=20ms" : "") +
             " HTTP/1.1\r\nHost: p\r\n\r\n";
  }
  ASSERT_LT(batch.size(), 64u * 1024) << "one read block";
  ASSERT_EQ(::send(client_, batch.data(), batch.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(batch.size()));
  // One response, its head included, is the most the queue may pass the limit by.
  const size_t bound = kLimit + kBase + kRequests + 512;
  size_t most = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < until) {
    uv_run(loop(), UV_RUN_NOWAIT);
    most = std::max(most, queued());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_LE(most, bound) << "queued output";
  // The kernel's socket buffers hold some megabytes at most; without the bound every request
  // would have been answered in the first read.
  const uint64_t answered = handler().stats().responsesOfClass(2);
  EXPECT_GE(answered, 1u);
  EXPECT_LT(answered, kRequests / 2) << "answered while the peer did not read";
  std::printf("answered %llu of %zu, at most %zu bytes queued, while the peer did not read\n",
              static_cast<unsigned long long>(answered), kRequests, most);

  // Now the peer reads: everything arrives, once and in order.
  std::string raw;
  size_t pos = 0;
  std::vector<size_t> lengths;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (lengths.size() < kRequests && std::chrono::steady_clock::now() < deadline) {
    uv_run(loop(), UV_RUN_NOWAIT);
    most = std::max(most, queued());
    ssize_t n = ::recv(client_, buf_, sizeof buf_, 0);
    if (n > 0) {
      raw.append(buf_, static_cast<size_t>(n));
      takeResponses(raw, &pos, &lengths);
      if (pos > (8u << 20)) {
        raw.erase(0, pos);
        pos = 0;
      }
    }
  }
  ASSERT_EQ(lengths.size(), kRequests);
  for (size_t i = 0; i < kRequests; ++i) {
    ASSERT_EQ(lengths[i], kBase + i) << "response " << i;
  }
  EXPECT_EQ(pos, raw.size()) << "nothing after the last response";
  EXPECT_LE(most, bound) << "queued output";
  EXPECT_EQ(handler().stats().requests(), kRequests);
  EXPECT_EQ(handler().stats().responsesOfClass(2), kRequests);
  EXPECT_EQ(handler().stats().delayed_responses, 1u);
  // The connection is still usable afterwards.
  EXPECT_GT(exchange(request("/hello"), 0), 0u);
}

}  // namespace
