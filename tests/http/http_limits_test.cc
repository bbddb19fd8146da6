// The http handler's limits: every one answers with its status code and closes the connection,
// except the keep-alive timeout, which closes silently.
//
// The timeouts have tests of their own, each with a daemon whose timeouts suit it: whenever a
// test waits while a timeout must not fire, it waits at most a tenth of that timeout, so that a
// slow machine cannot turn the wait into a timeout.

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "http_client.h"

namespace portd::itest {
namespace {

// The size limits, with the default timeouts (seconds), which none of these tests comes near.
class HttpLimitsTest : public HttpTest {
 protected:
  void SetUp() override {
    startDaemon(R"toml(
max_header_bytes = "1KiB"
max_headers = 10
max_body_bytes = "1KiB"
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

// header_timeout and keepalive_timeout. Each test starts its daemon with the timeouts it
// needs.
class HttpTimeoutTest : public HttpTest {
 protected:
  void start(std::string_view header_timeout, std::string_view keepalive_timeout) {
    startDaemon("header_timeout = \"" + std::string(header_timeout) + "\"\nkeepalive_timeout = \"" +
                    std::string(keepalive_timeout) + "\"\n",
                "[[listener.options.route]]\npath = \"/\"\nbody = \"ok\"\n");
  }

  // Waits `idle` on `c`, failing if anything arrives or the daemon closes it meanwhile.
  static void expectStillOpenAfter(int c, Clock::duration idle) {
    ReadToClose r = readUntilClose(c, idle);
    EXPECT_EQ(r.how, PeerClose::kStillOpen);
    EXPECT_EQ(r.data, "");
  }
};

TEST_F(HttpTimeoutTest, HeadDeadlineIsNotExtendedByTrickling) {
  // One byte every 20 ms, a tenth of the 200 ms header_timeout: each byte is progress, but the
  // head must still be complete 200 ms after its first byte. The whole request would take over
  // three seconds to arrive, so a deadline that the trickle extends is told apart by far.
  start("200ms", "60s");
  const std::string request = getRequest("/", "X-Slow: " + std::string(120, 't') + "\r\n");
  Fd c = connect();
  const Clock::time_point first_byte = Clock::now();
  std::string got;
  for (char ch : request) {
    if (!sendAll(c.get(), std::string_view(&ch, 1))) {
      break;  // the daemon has closed
    }
    ReadToClose r = readUntilClose(c.get(), 20ms);
    got += r.data;
    if (r.how != PeerClose::kStillOpen) {
      break;
    }
  }
  const Clock::duration elapsed = Clock::now() - first_byte;
  ASSERT_TRUE(got.starts_with("HTTP/1.1 408 Request Timeout\r\n")) << got;
  EXPECT_GE(elapsed, 200ms - kLoopClockSlack);
  EXPECT_LT(elapsed, 2s) << "the deadline was extended by the trickle";
  auto r = parseResponses(got);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].header("Connection"), "close");
}

TEST_F(HttpTimeoutTest, HeadDeadlineStartsAtTheRequestNotTheConnection) {
  // Idle between requests for twice the header_timeout, but a tenth of the keep-alive timeout:
  // the request that then comes is served (its head deadline starts at its first byte).
  start("100ms", "2s");
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/")));
  ASSERT_EQ(readResponses(c.get(), 1).size(), 1u);
  expectStillOpenAfter(c.get(), 200ms);
  ASSERT_TRUE(sendAll(c.get(), getRequest("/")));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
}

TEST_F(HttpTimeoutTest, ASilentNewConnectionEndsAtTheHeaderTimeoutNotTheKeepAliveOne) {
  // A connection that never sends a byte must not hold its slot for the keep-alive timeout:
  // from accept, the header_timeout applies (nginx's client_header_timeout).
  start("300ms", "60s");
  const Clock::time_point opened = Clock::now();
  Fd c = connect();
  ReadToClose r = readUntilClose(c.get(), 10s);
  EXPECT_EQ(r.how, PeerClose::kEof);
  EXPECT_EQ(r.data, "") << "nothing was asked, nothing is answered";
  EXPECT_GE(Clock::now() - opened, 300ms - kLoopClockSlack);
  EXPECT_LT(Clock::now() - opened, 6s);
}

// Slowloris: a hundred connections each send part of a head and then nothing. Other clients
// are served meanwhile, and every one of them is answered 408 and closed at the deadline.
TEST_F(HttpTimeoutTest, ManyUnfinishedHeadsAreClosedAtTheDeadlineWhileOthersAreServed) {
  start("500ms", "60s");
  std::vector<Fd> slow;
  for (int i = 0; i < 100; ++i) {
    slow.push_back(connect());
    ASSERT_TRUE(sendAll(slow.back().get(), "GET / HTTP/1.1\r\nHost: portd\r\nX-Slow: "));
  }
  for (int i = 0; i < 5; ++i) {
    Fd c = connect();
    ASSERT_TRUE(sendAll(c.get(), getRequest("/")));
    auto r = readResponses(c.get(), 1);
    ASSERT_EQ(r.size(), 1u) << "request " << i;
    EXPECT_EQ(r[0].status, 200);
  }
  for (Fd& c : slow) {
    ReadToClose r = readUntilClose(c.get(), 10s);
    EXPECT_TRUE(r.data.starts_with("HTTP/1.1 408")) << r.data;
    EXPECT_EQ(r.how, PeerClose::kEof);
  }
}

TEST_F(HttpTimeoutTest, IdleKeepAliveConnectionIsClosedSilently) {
  start("10s", "300ms");
  Fd c = connect();
  // The keep-alive timeout starts when the response has been sent, so after this point.
  const Clock::time_point sent = Clock::now();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/")));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  ReadToClose after = readUntilClose(c.get());
  const Clock::duration elapsed = Clock::now() - sent;
  EXPECT_EQ(after.how, PeerClose::kEof);
  EXPECT_EQ(after.data, "") << "an idle connection is closed without a response";
  EXPECT_GE(elapsed, 300ms - kLoopClockSlack);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(HttpTimeoutTest, KeepAliveTimeoutRestartsAfterEachResponse) {
  // Twenty requests, each 30 ms (a tenth of the 300 ms timeout) after the previous response:
  // twice the timeout in all, but never idle for long.
  start("10s", "300ms");
  Fd c = connect();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(sendAll(c.get(), getRequest("/")));
    auto r = readResponses(c.get(), 1);
    ASSERT_EQ(r.size(), 1u) << "request " << i;
    ASSERT_EQ(r[0].status, 200);
    expectStillOpenAfter(c.get(), 30ms);
  }
}

TEST_F(HttpTimeoutTest, NeverSendingARequestIsAKeepAliveTimeoutToo) {
  start("10s", "300ms");
  const Clock::time_point opened = Clock::now();
  Fd c = connect();
  ReadToClose r = readUntilClose(c.get());
  EXPECT_EQ(r.how, PeerClose::kEof);
  EXPECT_EQ(r.data, "");
  EXPECT_GE(Clock::now() - opened, 300ms - kLoopClockSlack);
}

}  // namespace
}  // namespace portd::itest
