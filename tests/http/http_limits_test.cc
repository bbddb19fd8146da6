// The http handler's limits: every one answers with its status code and closes the connection,
// except the keep-alive timeout, which closes silently.

#include <gtest/gtest.h>

#include <thread>

#include "http_client.h"

namespace portd::itest {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

class HttpLimitsTest : public HttpTest {
 protected:
  void SetUp() override {
    startDaemon(R"toml(
max_header_bytes = "1KiB"
max_headers = 10
max_body_bytes = "1KiB"
header_timeout = "200ms"
keepalive_timeout = "300ms"
)toml",
                "[[listener.options.route]]\npath = \"/\"\nbody = \"ok\"\n");
  }

  // Sends `request` on a new connection and expects one response with `status`, then the
  // connection closing.
  void expectRefused(const std::string& request, int status) {
    Fd c = connect();
    ASSERT_TRUE(sendAll(c.get(), request));
    ReadToClose r = readUntilClose(c.get());
    auto responses = parseResponses(r.data);
    ASSERT_EQ(responses.size(), 1u) << r.data;
    EXPECT_EQ(responses[0].status, status) << r.data;
    EXPECT_EQ(responses[0].header("Connection"), "close");
    EXPECT_EQ(r.how, PeerClose::kEof);
  }
};

TEST_F(HttpLimitsTest, HeadOfExactlyTheLimitIsServed) {
  // "GET / HTTP/1.1\r\nHost: portd\r\n" is 29 bytes, the final CRLF 2, "X-Pad: " and its CRLF 9.
  std::string pad(1024 - 29 - 2 - 9, 'p');
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/", "X-Pad: " + pad + "\r\n")));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  // One byte more is one too many.
  expectRefused(getRequest("/", "X-Pad: " + pad + "p\r\n"), 431);
}

TEST_F(HttpLimitsTest, TooManyHeaderBytesIs431) {
  expectRefused(getRequest("/", "X-Pad: " + std::string(1100, 'p') + "\r\n"), 431);
  // Spread over many small fields, and a long request line, too.
  std::string many;
  for (int i = 0; i < 8; ++i) {
    many += "X-" + std::to_string(i) + ": " + std::string(150, 'v') + "\r\n";
  }
  expectRefused(getRequest("/", many), 431);
  expectRefused(getRequest("/" + std::string(1100, 'a')), 431);
}

TEST_F(HttpLimitsTest, HugeHeaderIsRefusedBeforeItEnds) {
  // The head never ends: the limit must be enforced while it is still arriving.
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), "GET / HTTP/1.1\r\nX-Pad: " + std::string(4096, 'p')));
  ReadToClose r = readUntilClose(c.get());
  EXPECT_TRUE(r.data.starts_with("HTTP/1.1 431 ")) << r.data;
  EXPECT_NE(r.how, PeerClose::kStillOpen);
}

TEST_F(HttpLimitsTest, TooManyHeadersIs431) {
  std::string ten;  // Host is the first of ten
  for (int i = 0; i < 9; ++i) {
    ten += "X-" + std::to_string(i) + ": v\r\n";
  }
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/", ten)));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200) << "ten fields are allowed";
  expectRefused(getRequest("/", ten + "X-Eleven: v\r\n"), 431);
}

TEST_F(HttpLimitsTest, TooLargeContentLengthIs413) {
  // Refused from the head alone: no body byte needs to be sent.
  expectRefused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n", 413);
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" +
                                   std::string(1024, 'b')));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200) << "a body of exactly the limit is accepted";
}

TEST_F(HttpLimitsTest, TooLargeChunkedBodyIs413) {
  // Announced by one chunk's size...
  expectRefused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n" +
                    std::string(0x401, 'b'),
                413);
  // ...or reached by many small chunks.
  std::string body;
  for (int i = 0; i < 11; ++i) {
    body += "64\r\n" + std::string(100, 'b') + "\r\n";
  }
  expectRefused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body, 413);
}

TEST_F(HttpLimitsTest, ContinueIsRefusedWith413WhenTheBodyIsTooLarge) {
  expectRefused(
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n", 413);
}

TEST_F(HttpLimitsTest, HeadDeadlineIsNotExtendedByTrickling) {
  // One byte every 50 ms: each byte is progress, but the head must still be complete 200 ms
  // after its first byte. The whole request would take over two seconds to arrive.
  const std::string request = getRequest("/", "X-Slow: trickle trickle\r\n");
  Fd c = connect();
  const Clock::time_point start = Clock::now();
  std::string got;
  for (char ch : request) {
    if (!sendAll(c.get(), std::string_view(&ch, 1))) {
      break;  // the daemon has closed
    }
    ReadToClose r = readUntilClose(c.get(), 50ms);
    got += r.data;
    if (r.how != PeerClose::kStillOpen) {
      break;
    }
  }
  const auto elapsed = duration_cast<milliseconds>(Clock::now() - start);
  ASSERT_TRUE(got.starts_with("HTTP/1.1 408 Request Timeout\r\n")) << got;
  // The loop's clock counts whole milliseconds, so the deadline may come up to one early.
  EXPECT_GE(elapsed.count(), 195);
  EXPECT_LT(elapsed.count(), 1500) << "the deadline was extended by the trickle";
  auto r = parseResponses(got);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].header("Connection"), "close");
}

TEST_F(HttpLimitsTest, HeadDeadlineStartsAtTheRequestNotTheConnection) {
  // A connection idle for longer than header_timeout (but within the keep-alive timeout) may
  // still send a request.
  Fd c = connect();
  std::this_thread::sleep_for(250ms);  // the point of the test is to be idle for a while
  ASSERT_TRUE(sendAll(c.get(), getRequest("/")));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
}

TEST_F(HttpLimitsTest, IdleKeepAliveConnectionIsClosedSilently) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/")));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  const Clock::time_point idle_from = Clock::now();
  ReadToClose after = readUntilClose(c.get());
  const auto idle = duration_cast<milliseconds>(Clock::now() - idle_from);
  EXPECT_EQ(after.how, PeerClose::kEof);
  EXPECT_EQ(after.data, "") << "an idle connection is closed without a response";
  EXPECT_GE(idle.count(), 250);
  EXPECT_LT(idle.count(), 2000);
}

TEST_F(HttpLimitsTest, KeepAliveTimeoutRestartsAfterEachResponse) {
  Fd c = connect();
  // Four requests 150 ms apart: 600 ms in all, more than the 300 ms timeout, but never 300 ms
  // idle.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(sendAll(c.get(), getRequest("/")));
    auto r = readResponses(c.get(), 1);
    ASSERT_EQ(r.size(), 1u) << "request " << i;
    ASSERT_EQ(r[0].status, 200);
    std::this_thread::sleep_for(150ms);
  }
}

TEST_F(HttpLimitsTest, NeverSendingARequestIsAKeepAliveTimeoutToo) {
  Fd c = connect();
  ReadToClose r = readUntilClose(c.get());
  EXPECT_EQ(r.how, PeerClose::kEof);
  EXPECT_EQ(r.data, "");
}

}  // namespace
}  // namespace portd::itest
