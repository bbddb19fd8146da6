// readSimpleHead(): the heads it reads without llhttp, the ones it leaves to llhttp, and
// RequestParser reading every one of them, and what follows them, exactly as llhttp does.

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/http/field_syntax.h"
#include "handlers/http/request_parser.h"
#include "handlers/http/simple_head.h"

using namespace portd::handlers::http;

namespace {

TEST(HttpSimpleHeadTest, ReadsWhatLoadGeneratorsAndBrowsersSend) {
  const std::string h2load =
      "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:35711\r\nuser-agent: h2load nghttp2/1.52.0\r\n\r\n";
  const std::string input = h2load + "GET /next";  // the views point into it
  SimpleHead head;
  ASSERT_TRUE(readSimpleHead(input, HttpLimits{}, &head));
  EXPECT_EQ(head.size, h2load.size());
  EXPECT_FALSE(head.head_method);
  EXPECT_EQ(head.target, "/hello");
  EXPECT_EQ(head.path_size, 6u);
  EXPECT_EQ(head.headers, "Host: 127.0.0.1:35711\r\nuser-agent: h2load nghttp2/1.52.0\r\n");

  for (std::string_view ok : {
           "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
           "HEAD /a/b?c=d&e=%20f HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
           "GET /echo?status=200&header=X-A:b HTTP/1.1\r\nHost: [::1]:80\r\nX-Y: a  b\r\n\r\n",
       }) {
    EXPECT_TRUE(readSimpleHead(ok, HttpLimits{}, &head)) << ok;
  }
  ASSERT_TRUE(readSimpleHead("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", HttpLimits{}, &head));
  EXPECT_TRUE(head.head_method);
  // Where the path ends: at the first '?', which a query may hold again.
  ASSERT_TRUE(readSimpleHead("GET /a/b?c=d?e HTTP/1.1\r\nHost: x\r\n\r\n", HttpLimits{}, &head));
  EXPECT_EQ(head.target, "/a/b?c=d?e");
  EXPECT_EQ(head.path_size, 4u);
  ASSERT_TRUE(readSimpleHead("GET /? HTTP/1.1\r\nHost: x\r\n\r\n", HttpLimits{}, &head));
  EXPECT_EQ(head.path_size, 1u);
}

TEST(HttpSimpleHeadTest, LeavesEverythingElseToLlhttp) {
  for (std::string_view other : {
           "GET / HTTP/1.1\r\nHost: x\r\n",  // not complete
           "GET / HTTP/1.1\r\nHost: x\r\n\r",
           "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",  // a blank line first
           "POST / HTTP/1.1\r\nHost: x\r\n\r\n",
           "get / HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET / HTTP/1.0\r\nHost: x\r\n\r\n",
           "GET / HTTP/1.2\r\nHost: x\r\n\r\n",
           "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET /a\"b HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET / HTTP/1.1\nHost: x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\n\n",
           "GET / HTTP/1.1\r\n\r\n",                        // no Host
           "GET / HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n",  // two
           "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",           // not a host
           "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
           "GET / HTTP/1.1\r\nHost:x\r\n\r\n",  // the value as sent is not kept
           "GET / HTTP/1.1\r\nHost:  x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x \r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nA: \r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nA: b\tc\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nA: b\x80\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nA : b\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nA(: b\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n",  // obs-fold
           "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nCONNECTION: keep-alive\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nProxy-Connection: close\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
       }) {
    SimpleHead head;
    EXPECT_FALSE(readSimpleHead(other, HttpLimits{}, &head)) << testing::PrintToString(other);
  }
}

TEST(HttpSimpleHeadTest, StaysWithinTheLimits) {
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n";
  SimpleHead h;
  HttpLimits limits;
  limits.max_header_bytes = head.size();
  limits.max_headers = 3;
  EXPECT_TRUE(readSimpleHead(head, limits, &h));
  limits.max_header_bytes = head.size() - 1;
  EXPECT_FALSE(readSimpleHead(head, limits, &h));
  limits.max_header_bytes = head.size();
  limits.max_headers = 2;
  EXPECT_FALSE(readSimpleHead(head, limits, &h));
}

// The target, field names and the Host value are read sixteen bytes a step where SSE2 is
// there, the last step ending at the end of the input: every byte value, at every position of
// a step and of the last one, is taken or refused as the rules say.
TEST(HttpSimpleHeadTest, EveryByteAnywhereInTargetNameAndHost) {
  const std::string_view target_chars = "-._~!$&'()*+,;=:@/?%";
  auto inTarget = [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           target_chars.find(c) != std::string_view::npos;
  };
  SimpleHead h;
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    for (size_t pad = 0; pad < 40; ++pad) {
      // The byte in the target, then in a field name, then in the Host value, each at `pad`;
      // the rest of the head is as short as it can be, so that the byte also falls in the
      // last step.
      const std::string a(pad, 'a');
      const std::string in_target = "GET /" + a + c + "b HTTP/1.1\r\nHost: x\r\n\r\n";
      EXPECT_EQ(readSimpleHead(in_target, HttpLimits{}, &h), inTarget(c)) << b << " " << pad;
      const std::string name = "X" + a + c + "b";
      const std::string in_name = "GET / HTTP/1.1\r\nHost: x\r\n" + name + ": v\r\n\r\n";
      EXPECT_EQ(readSimpleHead(in_name, HttpLimits{}, &h), isToken(name)) << b << " " << pad;
      const std::string host = a + c + "b";
      const std::string in_host = "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
      EXPECT_EQ(readSimpleHead(in_host, HttpLimits{}, &h), isHostValue(host)) << b << " " << pad;
    }
  }
  // Field names are compared a word at a time, ignoring case.
  EXPECT_TRUE(readSimpleHead("GET / HTTP/1.1\r\nhOsT: x\r\n\r\n", HttpLimits{}, &h));
  EXPECT_FALSE(readSimpleHead("GET / HTTP/1.1\r\nHost: x\r\nHOST: x\r\n\r\n", HttpLimits{}, &h));
  EXPECT_FALSE(readSimpleHead("GET / HTTP/1.1\r\nHost: x\r\nTransfer-ENCODING: chunked\r\n\r\n",
                              HttpLimits{}, &h));
  EXPECT_FALSE(
      readSimpleHead("GET / HTTP/1.1\r\nHost: x\r\nconnectioN: close\r\n\r\n", HttpLimits{}, &h));
  EXPECT_TRUE(
      readSimpleHead("GET / HTTP/1.1\r\nHost: x\r\nconnectioM: close\r\n\r\n", HttpLimits{}, &h));
  EXPECT_TRUE(readSimpleHead("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encodinh: c\r\n\r\n",
                             HttpLimits{}, &h));
}

// Everything a parser makes of `input` in one piece, as text, to compare.
std::string outcome(std::string_view input, const HttpLimits& limits, bool simple_heads) {
  RequestParser parser(limits);
  parser.readSimpleHeads(simple_heads);
  std::string out;
  size_t used = 0;
  bool more = !input.empty();
  while (more) {
    const ParseStep step = parser.parse(input.substr(used));
    used += step.used;
    more = used < input.size();
    out += step.began ? "began " : "";
    if (step.event == ParseEvent::kHead) {
      const ParsedRequest r = parser.request();
      out += std::string("head ") + llhttp_method_name(r.method) + " " + std::string(r.target) +
             " 1." + std::to_string(r.http_minor) + " [" + std::string(r.headers) + "] " +
             (r.keep_alive ? "keep " : "close ") + (parser.isHeadRequest() ? "HEAD " : "");
      more = true;
    } else if (step.event == ParseEvent::kRequest) {
      out += "request ";
    } else if (step.event == ParseEvent::kError) {
      out += "error " + std::to_string(step.status);
      break;
    }
  }
  return out;
}

TEST(HttpSimpleHeadTest, ParserReadsTheSameWithAndWithoutSimpleHeads) {
  const std::string simple = "GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
  HttpLimits tight;
  tight.max_header_bytes = simple.size();
  for (const std::string& input : std::vector<std::string>{
           simple,
           simple + simple + simple,
           simple + "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + simple,
           "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + simple,
           "GET /b HTTP/1.0\r\n\r\n" + simple,
           "GET /b HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" + simple,
           "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n" + simple,
           "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + simple,
           "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n" +
               simple,
           simple + "\r\n" + simple,
           simple + "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
           simple + "garbage\r\n\r\n",
           "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n" + simple,
       }) {
    EXPECT_EQ(outcome(input, HttpLimits{}, true), outcome(input, HttpLimits{}, false))
        << testing::PrintToString(input);
    EXPECT_EQ(outcome(input, tight, true), outcome(input, tight, false))
        << testing::PrintToString(input);
  }
}

}  // namespace
