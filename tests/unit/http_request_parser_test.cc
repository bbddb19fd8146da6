// RequestParser on plain strings, with no connection or loop: what it makes of well-formed
// requests, every status it refuses a request with, and the same answers wherever the input is
// split.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/http/request_parser.h"

using namespace portd::handlers::http;

namespace {

// A request as the parser gave it, copied out of the parser's buffers, which the next request
// reuses.
struct Request {
  std::string method;
  std::string target;
  int http_minor = 1;
  std::string headers;
  std::string body;
  bool keep_alive = true;
  bool expect_continue = false;

  bool operator==(const Request&) const = default;
};

// Everything the parser made of one stream of input.
struct Outcome {
  std::vector<Request> requests;
  int began = 0;  // requests begun, complete or not
  int heads = 0;  // heads that passed the checks
  int error = 0;  // the status of the refusal, if any
  bool error_head_only = false;

  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "{began " << o.began << ", heads " << o.heads << ", error " << o.error
     << (o.error_head_only ? " (HEAD)" : "") << ", requests:";
  for (const Request& r : o.requests) {
    os << " [" << r.method << " " << r.target << " HTTP/1." << r.http_minor << " headers "
       << testing::PrintToString(r.headers) << " body " << testing::PrintToString(r.body)
       << (r.keep_alive ? " keep-alive" : " close") << (r.expect_continue ? " continue" : "")
       << "]";
  }
  return os << "}";
}

Request copyOf(const ParsedRequest& r) {
  Request c;
  c.method = llhttp_method_name(r.method);
  c.target = r.target;
  c.http_minor = r.http_minor;
  c.headers = r.headers;
  c.body = r.body;
  c.keep_alive = r.keep_alive;
  c.expect_continue = r.expect_continue;
  return c;
}

// Feeds one piece of input as the session does with one read: parse() until it has used the
// piece, once more after a head even with nothing left, and no further after a refusal. Bodies
// are kept, as for /echo.
void feed(RequestParser& parser, std::string_view piece, Outcome* out) {
  size_t used = 0;
  bool more = !piece.empty();
  while (more && out->error == 0) {
    const ParseStep step = parser.parse(piece.substr(used));
    used += step.used;
    more = used < piece.size();
    out->began += step.began ? 1 : 0;
    switch (step.event) {
      case ParseEvent::kNeedMore:
        break;
      case ParseEvent::kHead:
        ++out->heads;
        parser.keepBody(true);
        more = true;
        break;
      case ParseEvent::kRequest:
        out->requests.push_back(copyOf(parser.request()));
        break;
      case ParseEvent::kError:
        out->error = step.status;
        out->error_head_only = parser.isHeadRequest();
        break;
    }
  }
}

// Each piece is a string of its own, as separate reads would be: nothing before a piece's
// first byte is addressable through it, so checks that look back across pieces must use what
// the parser kept.
Outcome parsePieces(const std::vector<std::string>& pieces, const HttpLimits& limits = {}) {
  RequestParser parser(limits);
  Outcome out;
  for (const std::string& piece : pieces) {
    feed(parser, piece, &out);
  }
  return out;
}

Outcome parseAll(std::string_view input, const HttpLimits& limits = {}) {
  return parsePieces({std::string(input)}, limits);
}

// The input in two pieces split after byte `split`, and in one piece per byte: each must give
// what the whole input in one piece gives.
void expectSameWhereverSplit(std::string_view input, const HttpLimits& limits = {}) {
  const Outcome whole = parseAll(input, limits);
  for (size_t split = 1; split < input.size(); ++split) {
    const Outcome two = parsePieces(
        {std::string(input.substr(0, split)), std::string(input.substr(split))}, limits);
    ASSERT_EQ(two, whole) << "split after byte " << split << " of "
                          << testing::PrintToString(std::string(input));
  }
  std::vector<std::string> bytes;
  for (char c : input) {
    bytes.emplace_back(1, c);
  }
  EXPECT_EQ(parsePieces(bytes, limits), whole)
      << "one byte at a time: " << testing::PrintToString(std::string(input));
}

HttpLimits smallLimits() {
  HttpLimits limits;
  limits.max_header_bytes = 128;
  limits.max_headers = 4;
  limits.max_body_bytes = 16;
  return limits;
}

// ---- well-formed requests

TEST(HttpRequestParserTest, SimpleGet) {
  const Outcome o = parseAll("GET /hello?a=b HTTP/1.1\r\nHost: portd\r\n\r\n");
  EXPECT_EQ(o.error, 0);
  EXPECT_EQ(o.began, 1);
  EXPECT_EQ(o.heads, 1);
  ASSERT_EQ(o.requests.size(), 1u);
  const Request& r = o.requests[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/hello?a=b");
  EXPECT_EQ(r.http_minor, 1);
  EXPECT_EQ(r.headers, "Host: portd\r\n");
  EXPECT_EQ(r.body, "");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_FALSE(r.expect_continue);
}

TEST(HttpRequestParserTest, HeadEventComesBeforeTheBodyAndStopsThere) {
  RequestParser parser(HttpLimits{});
  const std::string input = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  const size_t head_size = input.size() - 3;
  ParseStep step = parser.parse(input);
  EXPECT_EQ(step.event, ParseEvent::kHead);
  EXPECT_TRUE(step.began);
  EXPECT_EQ(step.used, head_size);
  EXPECT_EQ(parser.request().target, "/echo");
  EXPECT_EQ(parser.request().method, HTTP_POST);
  parser.keepBody(true);
  step = parser.parse(std::string_view(input).substr(head_size));
  EXPECT_EQ(step.event, ParseEvent::kRequest);
  EXPECT_FALSE(step.began);
  EXPECT_EQ(step.used, 3u);
  EXPECT_EQ(parser.request().body, "abc");
}

TEST(HttpRequestParserTest, RequestWithoutBodyCompletesOnEmptyInputAfterItsHead) {
  RequestParser parser(HttpLimits{});
  const std::string input = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(parser.parse(input).event, ParseEvent::kHead);
  const ParseStep step = parser.parse(std::string_view(input).substr(input.size()));
  EXPECT_EQ(step.event, ParseEvent::kRequest);
  EXPECT_EQ(step.used, 0u);
}

TEST(HttpRequestParserTest, HeadersKeepTheirOrderAndLoseTrailingWhitespace) {
  const Outcome o = parseAll(
      "GET / HTTP/1.1\r\nHost: x\r\nX-One:  a b \t\r\nx-two:c\r\nAccept: */*\r\n"
      "X-Empty:\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].headers,
            "Host: x\r\nX-One: a b\r\nx-two: c\r\nAccept: */*\r\nX-Empty: \r\n");
}

TEST(HttpRequestParserTest, BodyIsDroppedUnlessKept) {
  RequestParser parser(HttpLimits{});
  const std::string input = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  ParseStep step = parser.parse(input);
  ASSERT_EQ(step.event, ParseEvent::kHead);
  step = parser.parse(std::string_view(input).substr(step.used));
  ASSERT_EQ(step.event, ParseEvent::kRequest);
  EXPECT_EQ(parser.request().body, "");
}

TEST(HttpRequestParserTest, ChunkedBody) {
  const Outcome o = parseAll(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n");
  EXPECT_EQ(o.error, 0);
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].body, "abc0123456789abcdef");
  // Trailer fields are not headers of the request.
  EXPECT_EQ(o.requests[0].headers, "Host: x\r\nTransfer-Encoding: chunked\r\n");
}

// RFC 9112 7.1.1: extensions, several of them, and whitespace (BWS) before the first one, which
// llhttp refuses by itself and the parser skips.
TEST(HttpRequestParserTest, ChunkExtensionsAreAcceptedAndDropped) {
  const std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string body : {
           "5;a=b;c=d\r\nhello\r\n0\r\n\r\n",
           "5 ;a=b\r\nhello\r\n0\r\n\r\n",
           "5\t ;a=b;c=\"d e\"\r\nhello\r\n0 ;z\r\n\r\n",
           "5; a = b ;c;d=\"\\\"q\\\\\"\r\nhello\r\n0\r\n\r\n",
           "2;x\r\nhe\r\n3  ;y=1\r\nllo\r\n0\r\n\r\n",
       }) {
    SCOPED_TRACE(testing::PrintToString(body));
    const Outcome o = parseAll(head + body);
    EXPECT_EQ(o.error, 0);
    ASSERT_EQ(o.requests.size(), 1u);
    EXPECT_EQ(o.requests[0].body, "hello");
    expectSameWhereverSplit(head + body + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  }
}

// reset() is how a pooled session's parser starts on its next connection: a connection that
// ended in the middle of a chunk-size line must not leave that line's state to the next one,
// whose request would then be read as a chunk size.
TEST(HttpRequestParserTest, ResetForgetsAChunkSizeLineInProgress) {
  RequestParser parser{HttpLimits{}};
  Outcome first;
  feed(parser, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 ;a", &first);
  ASSERT_EQ(first.error, 0);
  ASSERT_EQ(first.heads, 1);
  parser.reset();
  Outcome next;
  feed(parser, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", &next);
  EXPECT_EQ(next.error, 0);
  ASSERT_EQ(next.requests.size(), 1u) << next;
  EXPECT_EQ(next.requests[0].target, "/next");
}

TEST(HttpRequestParserTest, HostMayBeANameAnAddressOrALiteralWithAPort) {
  for (const char* host :
       {"portd", "example.com:8080", "127.0.0.1", "[::1]:80", "a-b_c~d%41", ""}) {
    const Outcome o = parseAll(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
    EXPECT_EQ(o.error, 0) << host;
    EXPECT_EQ(o.requests.size(), 1u) << host;
  }
}

TEST(HttpRequestParserTest, PipelinedRequestsInOneInput) {
  const Outcome o = parseAll(
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
      "HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n"
      "\r\n"  // a blank line between requests is allowed (RFC 9112 2.2)
      "GET /d HTTP/1.0\r\n\r\n");
  EXPECT_EQ(o.error, 0);
  EXPECT_EQ(o.began, 4);
  EXPECT_EQ(o.heads, 4);
  ASSERT_EQ(o.requests.size(), 4u);
  EXPECT_EQ(o.requests[0].target, "/a");
  EXPECT_EQ(o.requests[1].method, "POST");
  EXPECT_EQ(o.requests[1].body, "hi");
  EXPECT_EQ(o.requests[2].method, "HEAD");
  EXPECT_EQ(o.requests[3].target, "/d");
  EXPECT_EQ(o.requests[3].http_minor, 0);
  EXPECT_FALSE(o.requests[3].keep_alive);
}

TEST(HttpRequestParserTest, EachCallStopsAfterOneRequest) {
  RequestParser parser(HttpLimits{});
  const std::string first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string input = first + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
  ParseStep step = parser.parse(input);
  ASSERT_EQ(step.event, ParseEvent::kHead);
  size_t used = step.used;
  step = parser.parse(std::string_view(input).substr(used));
  ASSERT_EQ(step.event, ParseEvent::kRequest);
  used += step.used;
  EXPECT_EQ(used, first.size());
  EXPECT_EQ(parser.request().target, "/a");
  step = parser.parse(std::string_view(input).substr(used));
  EXPECT_EQ(step.event, ParseEvent::kHead);
  EXPECT_TRUE(step.began);
  EXPECT_EQ(parser.request().target, "/b");
}

TEST(HttpRequestParserTest, KeepAliveAndClose) {
  const Outcome o = parseAll(
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 2u);
  EXPECT_EQ(o.requests[0].http_minor, 0);
  EXPECT_TRUE(o.requests[0].keep_alive);
  EXPECT_FALSE(o.requests[1].keep_alive);
}

TEST(HttpRequestParserTest, ExpectContinueOnlyWhenTheClientWaitsForABody) {
  auto continues = [](const std::string& head) {
    const Outcome o = parseAll(head);
    EXPECT_EQ(o.heads, 1) << head;
    RequestParser parser(HttpLimits{});
    EXPECT_EQ(parser.parse(head).event, ParseEvent::kHead);
    return parser.request().expect_continue;
  };
  EXPECT_TRUE(
      continues("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n"));
  EXPECT_TRUE(continues(
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"));
  // No body to wait for.
  EXPECT_FALSE(
      continues("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_FALSE(continues("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"));
  // An HTTP/1.0 client does not wait.
  EXPECT_FALSE(continues("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
}

TEST(HttpRequestParserTest, UpgradeIsReadLikeAnyOtherRequest) {
  const Outcome o = parseAll(
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(o.error, 0);
  ASSERT_EQ(o.requests.size(), 2u);
  EXPECT_EQ(o.requests[1].target, "/after");
}

TEST(HttpRequestParserTest, BuffersAreReusedFromOneRequestToTheNext) {
  const Outcome o = parseAll(
      "POST /long/target HTTP/1.1\r\nHost: x\r\nX-A: aaaa\r\nContent-Length: 4\r\n\r\nbody"
      "GET /s HTTP/1.1\r\nHost: y\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 2u);
  EXPECT_EQ(o.requests[1].target, "/s");
  EXPECT_EQ(o.requests[1].headers, "Host: y\r\n");
  EXPECT_EQ(o.requests[1].body, "");
}

// ---- refusals: one test per status, and the ways to get it

struct Refused {
  int status;
  std::string input;
};

void expectRefused(const std::vector<Refused>& cases, const HttpLimits& limits = {}) {
  for (const Refused& c : cases) {
    const Outcome o = parseAll(c.input, limits);
    EXPECT_EQ(o.error, c.status) << testing::PrintToString(c.input);
    EXPECT_TRUE(o.requests.empty()) << testing::PrintToString(c.input);
  }
}

TEST(HttpRequestParserTest, Refused400) {
  expectRefused({
      // llhttp's own: a malformed request line, header, or framing.
      {400, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
      {400, "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"},
      {400, "get / HTTP/1.1\r\nHost: x\r\n\r\n"},
      {400, "GET / HTTP/1.1\r\nHost : x\r\n\r\n"},
      // portd's checks on top of llhttp.
      {400, "GET / HTTP/1.1\r\nHost: x\r\n\n"},
      {400, "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"},
      {400, "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n"},
      {400, "GET / HTTP/1.1\r\n\r\n"},
      {400, "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
      {400, "GET / HTTP/1.0\r\nHost: x\r\nHost: x\r\n\r\n"},
      {400, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {400, "GET /\r\n\r\n"},
      // A Host that is not a host and port.
      {400, "GET / HTTP/1.1\r\nHost: a b/c\r\n\r\n"},
      {400, "GET / HTTP/1.1\r\nHost: a/c\r\n\r\n"},
      {400, "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n"},
      {400, "GET / HTTP/1.1\r\nHost: a?b\r\n\r\n"},
      // Transfer codings other than one \"chunked\", which llhttp takes when chunked is last.
      {400, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n"},
      {400, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
      {400,
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      // Whitespace after a chunk size with no extension after it, and too much of it.
      {400, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n"},
      {400, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=" +
                std::string(4096, 'v') + "\r\nabc\r\n"},
      // Malformed extensions: no name, a space in a name, no value after '=', whitespace
      // before the line's end, a control character in a quoted value.
      {400, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n"},
      {400, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a b\r\nabc\r\n"},
      {400, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\r\nabc\r\n"},
      {400, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b \r\nabc\r\n"},
      {400, std::string("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                        "chunked\r\n\r\n3;a=\"\x01\"\r\nabc\r\n")},
      {400, "GET / HTTP/1.2\r\nHost: x\r\n\r\n"},
      {400,
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "1\r\na\r\n0\r\nX-T: v\r\n\n"},
  });
}

TEST(HttpRequestParserTest, Refused413) {
  expectRefused(
      {
          {413, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n"},
          // A chunk is refused by its size line, before its data.
          {413, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n"},
          {413,
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "8\r\n01234567\r\n8\r\n01234567\r\n1\r\n"},
      },
      smallLimits());
  // A chunk size near 2^64 must not wrap the count of the body so far: 3 + (2^64 - 3) is 0.
  // The 413 comes at the size line, not after max_body_bytes of data.
  for (const HttpLimits& limits : {smallLimits(), HttpLimits{}}) {
    expectRefused({{413,
                    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\nfffffffffffffffd\r\n"},
                   {413,
                    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "ffffffffffffffff\r\n"}},
                  limits);
  }
  // With no limit to speak of, a body of exactly 2^64 - 1 bytes is within it, one more is not.
  HttpLimits huge;
  huge.max_body_bytes = UINT64_MAX;
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(parseAll(head + "3\r\nabc\r\nfffffffffffffffc\r\nabc", huge).error, 0);
  EXPECT_EQ(parseAll(head + "3\r\nabc\r\nfffffffffffffffd\r\n", huge).error, 413);
  // At the limit, not over it.
  const Outcome o = parseAll(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n0123456789abcdef", smallLimits());
  EXPECT_EQ(o.error, 0);
  EXPECT_EQ(o.requests.size(), 1u);
}

TEST(HttpRequestParserTest, Refused417) {
  expectRefused({{417, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n"},
                 {417, "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, x\r\n\r\n"}});
}

TEST(HttpRequestParserTest, Refused431) {
  const HttpLimits limits = smallLimits();
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  const size_t fill = limits.max_header_bytes - head.size() - end.size();
  expectRefused(
      {
          // One byte over the head limit, in a header value, in the target, and counting the
          // blank lines before the request line.
          {431, head + std::string(fill + 1, 'p') + end},
          {431, "GET /" + std::string(limits.max_header_bytes, 'a') + " HTTP/1.1\r\n"},
          {431, "\r\n" + head + std::string(fill - 1, 'p') + end},
          // More fields than max_headers.
          {431, "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"},
          // Trailer fields count against the same limit.
          {431, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " +
                    std::string(limits.max_header_bytes, 't') + "\r\n\r\n"},
      },
      limits);
  const Outcome exact = parseAll(head + std::string(fill, 'p') + end, limits);
  EXPECT_EQ(exact.error, 0);
  EXPECT_EQ(exact.requests.size(), 1u);
}

// An origin server is not a proxy: CONNECT is refused at the end of its head, as nginx does,
// before anything after it is read. llhttp reads no body after a CONNECT head (what follows is
// the tunnel), so a body announced by Content-Length or chunked would otherwise be read as the
// next request. A chunked one with a malformed extension was read as a chunk-size line when it
// arrived with the head, and as a request line when it arrived later: the refusal came with one
// request begun whole, two begun byte by byte.
TEST(HttpRequestParserTest, Refused405ForConnectBeforeItsBody) {
  const std::string head = "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n";
  const std::vector<std::string> inputs = {
      head + "Transfer-Encoding: chunked\r\n\r\n1;\r\n",
      head + "Transfer-Encoding: chunked\r\n\r\n1;a=\x01\r\nx\r\n0\r\n\r\n",
      head + "Content-Length: 5\r\n\r\nGET /",
      head + "\r\n",
      head + "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE(testing::PrintToString(input));
    const Outcome whole = parseAll(input);
    EXPECT_EQ(whole.error, 405);
    EXPECT_EQ(whole.began, 1);
    EXPECT_EQ(whole.heads, 0);
    EXPECT_TRUE(whole.requests.empty());
    expectSameWhereverSplit(input);
  }
  // Framing errors still come first: the request cannot be delimited.
  expectRefused({{400, "CONNECT a:1 HTTP/1.1\r\n\r\n"},
                 {400, head + "Transfer-Encoding: gzip, chunked\r\n\r\n"}});
}

TEST(HttpRequestParserTest, Refused505) {
  expectRefused({{505, "GET / HTTP/2.0\r\nHost: x\r\n\r\n"}});
}

TEST(HttpRequestParserTest, RefusalOfAHeadRequestKnowsItsMethodOnceTheHeadEnded) {
  // The head ended properly: the answer to HEAD carries no body.
  Outcome o = parseAll("HEAD / HTTP/2.0\r\nHost: x\r\n\r\n");
  EXPECT_EQ(o.error, 505);
  EXPECT_TRUE(o.error_head_only);
  o = parseAll("HEAD / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(o.error, 400);
  EXPECT_TRUE(o.error_head_only);
  // Refused before the head ended, or at a bare LF: the method is not trusted.
  o = parseAll("HEAD / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n");
  EXPECT_EQ(o.error, 400);
  EXPECT_FALSE(o.error_head_only);
  o = parseAll("HEAD / HTTP/1.1\r\nHost: x\r\n\n");
  EXPECT_EQ(o.error, 400);
  EXPECT_FALSE(o.error_head_only);
}

TEST(HttpRequestParserTest, AGoodRequestBeforeARefusedOneIsComplete) {
  const Outcome o = parseAll(
      "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /second HTTP/1.1\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].target, "/first");
  EXPECT_EQ(o.error, 400);
}

// "GET /" is an HTTP/0.9 request line, after which llhttp waits for a header section the
// client never sends: it is refused as soon as the line ends, not at the head deadline.
TEST(HttpRequestParserTest, Http09RequestLineIsRefusedAtItsEnd) {
  for (const char* line : {"GET /\r\n", "GET /\n", "GET /index.html\r\n"}) {
    RequestParser parser(HttpLimits{});
    const ParseStep step = parser.parse(line);
    EXPECT_EQ(step.event, ParseEvent::kError) << line;
    EXPECT_EQ(step.status, 400) << line;
  }
}

TEST(HttpRequestParserTest, AfterARefusalEveryCallGivesTheSameError) {
  RequestParser parser(HttpLimits{});
  ASSERT_EQ(parser.parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n").status, 505);
  const ParseStep step = parser.parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(step.event, ParseEvent::kError);
  EXPECT_EQ(step.status, 505);
}

// ---- wherever the input is split

TEST(HttpRequestParserTest, EveryRequestGivesTheSameResultWhereverItIsSplit) {
  const HttpLimits limits = smallLimits();
  const std::vector<std::string> inputs = {
      "GET /hello?a=b HTTP/1.1\r\nHost: portd\r\nX-One:  a b \t\r\n\r\n",
      "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
      "POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2;e=v\r\nde\r\n0\r\nX-T: v\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
      // Refused: each status, and the checks that look at the bytes around a split.
      "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nX-B: c\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\n\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: v\r\n\n",
      "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
      "GET /\r\n\r\n",
      "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nExpect: nothing\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n012345678\r\n"
      "8\r\n01234567\r\n0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(128, 'p') + "\r\n\r\n",
      "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 \t ;a=b\r\nabc\r\n"
      "0 ;c\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3  \r\nabc\r\n0\r\n\r\n",
      "GET /\r\n",
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE(testing::PrintToString(input));
    expectSameWhereverSplit(input, limits);
  }
}

// The head limit is exact wherever the input is split: one byte more is refused.
TEST(HttpRequestParserTest, HeadLimitIsExactWhereverSplit) {
  const HttpLimits limits = smallLimits();
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  const size_t fill = limits.max_header_bytes - head.size() - end.size();
  const std::string exact = head + std::string(fill, 'p') + end;
  const std::string over = head + std::string(fill + 1, 'p') + end;
  ASSERT_EQ(parseAll(exact, limits).error, 0);
  ASSERT_EQ(parseAll(over, limits).error, 431);
  expectSameWhereverSplit(exact, limits);
  expectSameWhereverSplit(over, limits);
}

// A head over its size limit before a byte llhttp refuses, or before an obsolete line folding:
// the limit was crossed first, so the answer is 431 whether the input arrives whole or in
// pieces, and 400 when the bad byte comes within the limit. (Whole input used to get 400, input
// split before the bad byte 431.)
TEST(HttpRequestParserTest, HeadOverTheLimitBeforeAMalformedByteIs431WhereverSplit) {
  const HttpLimits limits = smallLimits();
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-";
  const std::string over = head + std::string(limits.max_header_bytes - head.size() + 1, 'n');
  const std::string within = head + std::string(limits.max_header_bytes - head.size(), 'n');
  for (const std::string& bad : {std::string(1, '\0') + ": v\r\n\r\n", std::string(" : v\r\n")}) {
    SCOPED_TRACE(testing::PrintToString(bad));
    EXPECT_EQ(parseAll(over + bad, limits).error, 431);
    expectSameWhereverSplit(over + bad, limits);
    EXPECT_EQ(parseAll(within + bad, limits).error, 400);
    expectSameWhereverSplit(within + bad, limits);
  }
}

// The same for a fold: the CRLF before it (or its tab) may cross the limit.
TEST(HttpRequestParserTest, HeadOverTheLimitBeforeAFoldIs431WhereverSplit) {
  const HttpLimits limits = smallLimits();
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-A: ";
  const std::string fold = "\r\n\tb\r\n\r\n";
  // The value ends one byte before the limit: the CRLF crosses it.
  const std::string over = head + std::string(limits.max_header_bytes - head.size() - 1, 'v');
  // Value, CRLF and tab end exactly at the limit: the fold comes within it.
  const std::string within = head + std::string(limits.max_header_bytes - head.size() - 3, 'v');
  EXPECT_EQ(parseAll(over + fold, limits).error, 431);
  expectSameWhereverSplit(over + fold, limits);
  EXPECT_EQ(parseAll(within + fold, limits).error, 400);
  expectSameWhereverSplit(within + fold, limits);
}

// The smuggling corpus of the black-box tests: every file is refused by the parser alone,
// wherever it is split, with 400 or the status its name gives (NAME.413.http).
TEST(HttpRequestParserTest, MalformedCorpusIsRefusedWhereverSplit) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(PORTD_SOURCE_DIR "/tests/http/corpus")) {
    if (entry.path().extension() == ".http") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 40u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::ifstream in(file, std::ios::binary);
    const std::string input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(input.empty());
    const std::string stem = file.stem().string();
    const size_t dot = stem.rfind('.');
    const int status = dot == std::string::npos ? 400 : std::stoi(stem.substr(dot + 1));
    const Outcome o = parseAll(input);
    EXPECT_EQ(o.error, status);
    EXPECT_TRUE(o.requests.empty());
    expectSameWhereverSplit(input);
  }
}

}  // namespace
