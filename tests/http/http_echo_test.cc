// The echo endpoint and its query knobs: status, delay, size, close and header, each with
// probability lists, and the limits max_delay and max_size.

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "http_client.h"

namespace portd::itest {
namespace {

class HttpEchoTest : public HttpTest {
 protected:
  void SetUp() override {
    startDaemon("max_delay = \"2s\"\nmax_size = \"64KiB\"\n",
                "[[listener.options.route]]\npath = \"/fast\"\nbody = \"fast\"\n");
  }

  HttpResponse get(const std::string& target, const std::string& extra = "") {
    Fd c = connect();
    EXPECT_TRUE(sendAll(c.get(), getRequest(target, extra)));
    auto r = readResponses(c.get(), 1);
    EXPECT_EQ(r.size(), 1u) << target;
    return r.empty() ? HttpResponse{} : r[0];
  }
};

TEST_F(HttpEchoTest, ReflectsMethodPathHeadersAndBody) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(),
                      "PUT /echo/sub/path?x=1 HTTP/1.1\r\nHost: portd\r\n"
                      "X-Trailing:  spaced value  \r\nContent-Length: 7\r\n\r\npayload"));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[0].header("Content-Type"), "text/plain");
  EXPECT_EQ(r[0].body,
            "PUT /echo/sub/path?x=1 HTTP/1.1\r\nHost: portd\r\nX-Trailing: spaced value\r\n"
            "Content-Length: 7\r\n\r\npayload");
}

TEST_F(HttpEchoTest, PrefixMatchesOnlyWholeSegments) {
  EXPECT_EQ(get("/echo").status, 200);
  EXPECT_EQ(get("/echo/").status, 200);
  EXPECT_EQ(get("/echoes").status, 404);
}

TEST_F(HttpEchoTest, HeadGetsTheLengthOfTheEcho) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/echo?size=100", "", "HEAD")));
  auto r = readResponses(c.get(), 1, kIoTimeout, /*head=*/true);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].header("Content-Length"), "100");
  ASSERT_TRUE(sendAll(c.get(), getRequest("/fast")));
  auto next = readResponses(c.get(), 1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].body, "fast");
}

TEST_F(HttpEchoTest, StatusKnob) {
  HttpResponse r = get("/echo?status=503");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.reason, "Service Unavailable");
  EXPECT_EQ(get("/echo?status=204").status, 204);
}

TEST_F(HttpEchoTest, SizeKnob) {
  HttpResponse r = get("/echo?size=10000");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 10000u);
  EXPECT_EQ(get("/echo?size=1KiB").body.size(), 1024u);
  EXPECT_EQ(get("/echo?size=0").body.size(), 0u);
}

TEST_F(HttpEchoTest, HeaderKnobIsRepeatable) {
  HttpResponse r =
      get("/echo?header=X-Foo:bar&header=X-Two:%20a%20b&header=Content-Type:"
          "application/json");
  EXPECT_EQ(r.header("X-Foo"), "bar");
  EXPECT_EQ(r.header("X-Two"), "a b");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
}

TEST_F(HttpEchoTest, CloseKnobClosesAfterTheResponse) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/echo?close=true") + getRequest("/fast")));
  ReadToClose r = readUntilClose(c.get());
  EXPECT_EQ(r.how, PeerClose::kEof);
  auto responses = parseResponses(r.data);
  ASSERT_EQ(responses.size(), 1u) << r.data;
  EXPECT_EQ(responses[0].header("Connection"), "close");
}

TEST_F(HttpEchoTest, DelayIsObservedByTheClient) {
  Fd c = connect();
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/echo?delay=50ms")));
  auto r = readResponses(c.get(), 1);
  const Clock::duration elapsed = Clock::now() - start;
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  // A delay runs on a timer to the microsecond, from when the request was read: never short.
  EXPECT_GE(elapsed, 50ms);
}

TEST_F(HttpEchoTest, DelayedResponseKeepsPipelinedOrder) {
  Fd c = connect();
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/echo?delay=100ms&header=X-N:1") + getRequest("/fast") +
                                   getRequest("/echo?delay=50ms&header=X-N:3") +
                                   getRequest("/echo?header=X-N:4")));
  auto r = readResponses(c.get(), 4);
  const Clock::duration elapsed = Clock::now() - start;
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].header("X-N"), "1");
  EXPECT_EQ(r[1].body, "fast");
  EXPECT_EQ(r[2].header("X-N"), "3");
  EXPECT_EQ(r[3].header("X-N"), "4");
  // Each of the two delays may end early by the loop clock's slack.
  EXPECT_GE(elapsed, 150ms) << "the delays run one after the other";
}

TEST_F(HttpEchoTest, ConnectionsDelayIndependently) {
  // A delayed response on one connection holds up nothing on another (no blocking sleep): the
  // other is answered while the delayed one still waits. The exchange takes milliseconds; the
  // delay is the longest allowed, 2 s, so that even a slow machine's exchange fits in a tenth
  // of it.
  Fd slow = connect();
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(sendAll(slow.get(), getRequest("/echo?delay=2s")));
  HttpResponse fast = get("/fast");
  EXPECT_EQ(fast.body, "fast");
  ReadToClose early = readUntilClose(slow.get(), 0ms);
  EXPECT_EQ(early.data, "") << "the delayed response came before the other one";
  EXPECT_EQ(early.how, PeerClose::kStillOpen);
  auto r = readResponses(slow.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_GE(Clock::now() - start, 2s);
}

TEST_F(HttpEchoTest, OverTheMaximaIs400) {
  HttpResponse d = get("/echo?delay=3s");
  EXPECT_EQ(d.status, 400);
  EXPECT_NE(d.body.find("max_delay"), std::string::npos) << d.body;
  HttpResponse s = get("/echo?size=65537");
  EXPECT_EQ(s.status, 400);
  EXPECT_NE(s.body.find("max_size"), std::string::npos) << s.body;
  // Any entry of a list over the maximum refuses the request, however unlikely it is.
  EXPECT_EQ(get("/echo?delay=10ms:50,5s:0.01").status, 400);
}

TEST_F(HttpEchoTest, BadKnobsAre400AndTheConnectionStays) {
  Fd c = connect();
  for (const char* target :
       {"/echo?status=abc", "/echo?status=99", "/echo?status=503:101", "/echo?status=503:60,429:50",
        "/echo?delay=5", "/echo?size=lots", "/echo?close=maybe", "/echo?header=NoColon",
        "/echo?header=X-A:a%0D%0AX-Injected:1", "/echo?header=Content-Length:5",
        "/echo?status=200&status=503", "/echo?status=%zz"}) {
    ASSERT_TRUE(sendAll(c.get(), getRequest(target)));
    auto r = readResponses(c.get(), 1);
    ASSERT_EQ(r.size(), 1u) << target;
    EXPECT_EQ(r[0].status, 400) << target;
    EXPECT_FALSE(r[0].hasHeader("X-Injected"));
  }
}

// 1000 draws of status=503:10,429:5. Each count is binomial; a deviation of six standard
// deviations has a probability below 2e-9, so the test does not flake.
TEST_F(HttpEchoTest, StatusProbabilitiesHold) {
  constexpr int kRequests = 1000;
  constexpr int kBatch = 100;
  std::map<int, int> counts;
  Fd c = connect();
  for (int sent = 0; sent < kRequests; sent += kBatch) {
    std::string batch;
    for (int i = 0; i < kBatch; ++i) {
      batch += getRequest("/echo?status=503:10,429:5");
    }
    ASSERT_TRUE(sendAll(c.get(), batch));
    auto r = readResponses(c.get(), kBatch);
    ASSERT_EQ(r.size(), static_cast<size_t>(kBatch));
    for (const HttpResponse& response : r) {
      ++counts[response.status];
    }
  }
  ASSERT_EQ(counts.size(), 3u);
  for (auto [status, p] : {std::pair{503, 0.10}, std::pair{429, 0.05}, std::pair{200, 0.85}}) {
    const double mean = kRequests * p;
    const double sigma = std::sqrt(kRequests * p * (1 - p));
    EXPECT_NEAR(counts[status], mean, 6 * sigma) << "status " << status;
  }
}

TEST_F(HttpEchoTest, HeaderProbabilityHolds) {
  constexpr int kRequests = 1000;
  constexpr int kBatch = 100;
  int with = 0;
  Fd c = connect();
  for (int sent = 0; sent < kRequests; sent += kBatch) {
    std::string batch;
    for (int i = 0; i < kBatch; ++i) {
      batch += getRequest("/echo?header=X-Chance:yes:20&header=X-Always:1");
    }
    ASSERT_TRUE(sendAll(c.get(), batch));
    auto r = readResponses(c.get(), kBatch);
    ASSERT_EQ(r.size(), static_cast<size_t>(kBatch));
    for (const HttpResponse& response : r) {
      with += response.header("X-Chance") == "yes" ? 1 : 0;
      EXPECT_EQ(response.header("X-Always"), "1");
    }
  }
  const double mean = kRequests * 0.2;
  EXPECT_NEAR(with, mean, 6 * std::sqrt(kRequests * 0.2 * 0.8));
}

TEST_F(HttpEchoTest, DelayProbabilitiesHold) {
  // delay=100ms:50 on 20 sequential requests, each timed: a delayed one takes at least 100 ms,
  // which an undelayed one on loopback does not come near. All 20 or none delayed has a
  // probability of 2e-6.
  Fd c = connect();
  int delayed = 0;
  for (int i = 0; i < 20; ++i) {
    const Clock::time_point start = Clock::now();
    ASSERT_TRUE(sendAll(c.get(), getRequest("/echo?delay=100ms:50")));
    auto r = readResponses(c.get(), 1);
    ASSERT_EQ(r.size(), 1u);
    delayed += Clock::now() - start >= 100ms ? 1 : 0;
  }
  EXPECT_GE(delayed, 1);
  EXPECT_LE(delayed, 19);
}

TEST_F(HttpEchoTest, EchoCanBeDisabledAndMoved) {
  Daemon other;
  ASSERT_TRUE(other.start(httpConfig("echo = false")));
  Fd c = connectTcp(other.listener("web"));
  ASSERT_TRUE(sendAll(c.get(), getRequest("/echo")));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 404);
  c.reset();
  EXPECT_TRUE(other.stop());

  Daemon moved;
  ASSERT_TRUE(moved.start(httpConfig("echo_prefix = \"/debug/echo\"")));
  Fd m = connectTcp(moved.listener("web"));
  ASSERT_TRUE(sendAll(m.get(), getRequest("/debug/echo?status=202") + getRequest("/echo")));
  auto mr = readResponses(m.get(), 2);
  ASSERT_EQ(mr.size(), 2u);
  EXPECT_EQ(mr[0].status, 202);
  EXPECT_EQ(mr[1].status, 404);
  m.reset();
  EXPECT_TRUE(moved.stop());
}

}  // namespace
}  // namespace portd::itest
