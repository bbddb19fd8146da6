// The http handler's HTTP/1.x behaviour, checked against curl and against raw sockets: routes,
// keep-alive, pipelining, request bodies, 100-continue and HEAD.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "http_client.h"

namespace portd::itest {
namespace {

const char* kRoutes = R"toml(
[[listener.options.route]]
path = "/hello"
body = "hi\n"
headers = ["X-Route: hello", "Cache-Control: no-store"]

[[listener.options.route]]
path = "/static/"
match = "prefix"
body = "static\n"
content_type = "text/html"

[[listener.options.route]]
path = "/static/exact"
body = "exact wins\n"

[[listener.options.route]]
path = "/teapot"
status = 418
body = "short and stout\n"

[[listener.options.route]]
path = "/empty"
status = 204
)toml";

class HttpBasicTest : public HttpTest {
 protected:
  void SetUp() override { startDaemon("", kRoutes); }
};

TEST_F(HttpBasicTest, ExactRouteAnswersWithItsResponse) {
  CommandResult r = runCurl({"-sS", "-i", url(web_, "/hello")});
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  auto responses = parseResponses(r.out);
  ASSERT_EQ(responses.size(), 1u) << r.out;
  const HttpResponse& h = responses[0];
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "hi\n");
  EXPECT_EQ(h.header("Content-Type"), "text/plain");
  EXPECT_EQ(h.header("X-Route"), "hello");
  EXPECT_EQ(h.header("Cache-Control"), "no-store");
  EXPECT_EQ(h.header("Server"), "portd");
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  EXPECT_EQ(h.header("Date").size(), 29u) << h.header("Date");
  EXPECT_TRUE(h.header("Date").ends_with(" GMT"));
}

TEST_F(HttpBasicTest, PrefixRouteAndLongestMatch) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/static/a/b.css") + getRequest("/static/exact") +
                                   getRequest("/static/exact/more") + getRequest("/stat")));
  auto r = readResponses(c.get(), 4);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[0].body, "static\n");
  EXPECT_EQ(r[0].header("Content-Type"), "text/html");
  EXPECT_EQ(r[1].body, "exact wins\n");
  EXPECT_EQ(r[2].body, "static\n") << "an exact route matches its path only";
  EXPECT_EQ(r[3].status, 404);
}

TEST_F(HttpBasicTest, QueryAndAbsoluteFormTargetsMatchThePath) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/hello?x=1") + getRequest("http://portd/hello")));
  auto r = readResponses(c.get(), 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].body, "hi\n");
  EXPECT_EQ(r[1].body, "hi\n");
}

TEST_F(HttpBasicTest, UnknownPathIs404) {
  CommandResult r = runCurl({"-sS", "-o", "/dev/null", "-w", "%{http_code}", url(web_, "/nope")});
  EXPECT_EQ(r.out, "404") << r.err;
}

TEST_F(HttpBasicTest, StatusAndNoBodyStatuses) {
  Fd c = connect();
  ASSERT_TRUE(
      sendAll(c.get(), getRequest("/teapot") + getRequest("/empty") + getRequest("/hello")));
  auto r = readResponses(c.get(), 3);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].status, 418);
  EXPECT_EQ(r[0].reason, "I'm a teapot");
  EXPECT_EQ(r[1].status, 204);
  EXPECT_FALSE(r[1].hasHeader("Content-Length"));
  EXPECT_EQ(r[2].body, "hi\n") << "the 204 must not have sent a body";
}

TEST_F(HttpBasicTest, CurlReusesTheConnection) {
  CommandResult r = runCurl({"-sS", "-v", url(web_, "/hello"), url(web_, "/static/x")});
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  EXPECT_EQ(r.out, "hi\nstatic\n");
  EXPECT_NE(r.err.find("Re-using existing connection"), std::string::npos) << r.err;
  EXPECT_EQ(countOccurrences(r.err, "Connected to"), 1u) << r.err;
}

TEST_F(HttpBasicTest, PipelinedRequestsAreAnsweredInOrder) {
  Fd c = connect();
  // Both requests in one write: the daemon reads them together.
  ASSERT_TRUE(sendAll(c.get(), getRequest("/static/one") + getRequest("/hello") +
                                   getRequest("/nope") + getRequest("/static/exact")));
  auto r = readResponses(c.get(), 4);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].body, "static\n");
  EXPECT_EQ(r[1].body, "hi\n");
  EXPECT_EQ(r[2].status, 404);
  EXPECT_EQ(r[3].body, "exact wins\n");
  // And the connection stays open for more.
  ASSERT_TRUE(sendAll(c.get(), getRequest("/hello")));
  r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].body, "hi\n");
}

TEST_F(HttpBasicTest, RequestSplitIntoSingleBytesIsParsed) {
  Fd c = connect();
  std::string req = getRequest("/hello", "X-Long-Header: some value here\r\n");
  for (char ch : req) {
    ASSERT_TRUE(sendAll(c.get(), std::string_view(&ch, 1)));
  }
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].body, "hi\n");
}

TEST_F(HttpBasicTest, HeadHasTheLengthButNoBody) {
  CommandResult r = runCurl({"-sS", "-I", url(web_, "/hello")});
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  auto head = parseResponses(r.out, nullptr, /*head=*/true);
  ASSERT_EQ(head.size(), 1u) << r.out;
  EXPECT_EQ(head[0].status, 200);
  EXPECT_EQ(head[0].header("Content-Length"), "3");

  // Had the HEAD response a body, those bytes would come before the next response and spoil
  // its parsing.
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/hello", "", "HEAD")));
  auto one = readResponses(c.get(), 1, kIoTimeout, /*head=*/true);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].header("Content-Length"), "3");
  ASSERT_TRUE(sendAll(c.get(), getRequest("/static/z")));
  auto next = readResponses(c.get(), 1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].status, 200);
  EXPECT_EQ(next[0].body, "static\n");
}

TEST_F(HttpBasicTest, Http10ClosesUnlessAskedToKeepAlive) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), "GET /hello HTTP/1.0\r\n\r\n"));
  ReadToClose r = readUntilClose(c.get());
  EXPECT_EQ(r.how, PeerClose::kEof);
  auto responses = parseResponses(r.data);
  ASSERT_EQ(responses.size(), 1u) << r.data;
  EXPECT_EQ(responses[0].body, "hi\n");
  EXPECT_EQ(responses[0].header("Connection"), "close");

  Fd k = connect();
  ASSERT_TRUE(sendAll(k.get(),
                      "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                      "GET /static/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto kept = readResponses(k.get(), 2);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].header("Connection"), "keep-alive");
  EXPECT_EQ(kept[1].body, "static\n");
}

TEST_F(HttpBasicTest, ConnectionCloseIsHonoured) {
  Fd c = connect();
  ASSERT_TRUE(
      sendAll(c.get(), getRequest("/hello", "Connection: close\r\n") + getRequest("/hello")));
  ReadToClose r = readUntilClose(c.get());
  EXPECT_EQ(r.how, PeerClose::kEof);
  auto responses = parseResponses(r.data);
  ASSERT_EQ(responses.size(), 1u) << "nothing is answered after Connection: close";
  EXPECT_EQ(responses[0].header("Connection"), "close");
}

TEST_F(HttpBasicTest, ContentLengthBodyIsReadAndSkipped) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(),
                      "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"
                      "hello world" +
                          getRequest("/static/")));
  auto r = readResponses(c.get(), 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].body, "hi\n");
  EXPECT_EQ(r[1].body, "static\n");
}

TEST_F(HttpBasicTest, ChunkedBodyFromCurlIsEchoed) {
  CommandResult r = runCurl({"-sS", "-H", "Transfer-Encoding: chunked", "--data-binary",
                             "chunky body", url(web_, "/echo")});
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  EXPECT_NE(r.out.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.ends_with("\r\n\r\nchunky body")) << r.out;
}

TEST_F(HttpBasicTest, ChunkedBodyWithExtensionsAndTrailers) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(),
                      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n" +
                          getRequest("/hello")));
  auto r = readResponses(c.get(), 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].body.ends_with("\r\n\r\nhello world")) << r[0].body;
  EXPECT_EQ(r[1].body, "hi\n");
}

TEST_F(HttpBasicTest, CurlGetsContinueBeforeSendingTheBody) {
  CommandResult r = runCurl({"-sS", "-v", "-H", "Expect: 100-continue", "--expect100-timeout", "10",
                             "--data-binary", "after continue", url(web_, "/echo")});
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  EXPECT_NE(r.err.find("< HTTP/1.1 100 Continue"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.ends_with("after continue")) << r.out;
}

TEST_F(HttpBasicTest, ContinueArrivesBeforeTheBodyIsSent) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(),
                      "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      "Content-Length: 4\r\n\r\n"));
  // Nothing of the body has been sent, and yet the interim response is there.
  constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(readExactly(c.get(), kContinue.size()), kContinue);
  ASSERT_TRUE(sendAll(c.get(), "body"));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_TRUE(r[0].body.ends_with("\r\n\r\nbody"));
}

TEST_F(HttpBasicTest, NoContinueWithoutABody) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/hello", "Expect: 100-continue\r\n")));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200) << "a request without a body gets no 100 Continue";
}

TEST_F(HttpBasicTest, UnknownExpectationIs417) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(),
                      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n"
                      "Content-Length: 4\r\n\r\n"));
  ReadToClose r = readUntilClose(c.get());
  auto responses = parseResponses(r.data);
  ASSERT_EQ(responses.size(), 1u) << r.data;
  EXPECT_EQ(responses[0].status, 417);
  EXPECT_EQ(r.how, PeerClose::kEof);
}

TEST_F(HttpBasicTest, UpgradeIsIgnoredAndTheConnectionStaysHttp) {
  Fd c = connect();
  ASSERT_TRUE(
      sendAll(c.get(), getRequest("/hello", "Connection: Upgrade\r\nUpgrade: websocket\r\n") +
                           getRequest("/static/")));
  auto r = readResponses(c.get(), 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[1].body, "static\n");
}

// portd is an origin server, not a proxy: a client that takes it for one (curl -p -x) is told
// 405 at once and the connection closes, rather than waiting for a tunnel.
TEST_F(HttpBasicTest, ConnectIs405AndTheConnectionCloses) {
  const std::string proxy = "http://" + web_.toString();
  CommandResult r = runCurl(
      {"-sS", "-p", "-x", proxy, "-o", "/dev/null", "-w", "%{http_connect}", "http://a:1/"});
  // curl: "CONNECT tunnel failed, response 405", exit status 56 (a failure receiving data).
  EXPECT_EQ(r.status, ExitStatus::exited(56)) << r.err;
  EXPECT_EQ(r.out, "405") << r.err;
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n" + getRequest("/hello")));
  ReadToClose closed = readUntilClose(c.get());
  auto responses = parseResponses(closed.data);
  ASSERT_EQ(responses.size(), 1u) << closed.data;
  EXPECT_EQ(responses[0].status, 405);
  EXPECT_EQ(responses[0].header("Connection"), "close");
  EXPECT_EQ(closed.how, PeerClose::kEof);
}

TEST_F(HttpBasicTest, Http2VersionIs505) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), "GET /hello HTTP/2.0\r\nHost: x\r\n\r\n"));
  ReadToClose r = readUntilClose(c.get());
  auto responses = parseResponses(r.data);
  ASSERT_EQ(responses.size(), 1u) << r.data;
  EXPECT_EQ(responses[0].status, 505);
}

TEST_F(HttpBasicTest, ManyConnectionsAtOnce) {
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      Fd c = connectTcp(web_);
      std::string batch;
      for (int j = 0; j < 50; ++j) {
        batch += getRequest("/hello");
      }
      if (c.valid() && sendAll(c.get(), batch) && readResponses(c.get(), 50).size() == 50) {
        ++ok;
      }
    });
  }
  for (auto& t : clients) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 8);
}

}  // namespace
}  // namespace portd::itest
