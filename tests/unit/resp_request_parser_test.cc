// The resp handler's request parser: RESP2 multibulk and inline commands, every limit with
// Redis 7's error text, and the same commands however the input is split.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "handlers/resp/request_parser.h"

namespace portd::handlers::resp {
namespace {

using Status = RequestParser::Status;

// What a parser makes of `pieces` fed as successive reads, keeping the unparsed tail as the
// handler does: each command as its arguments joined by '|', or "-" and the error text.
std::vector<std::string> run(const std::vector<std::string>& pieces,
                             const ParserLimits& limits = {}) {
  RequestParser parser(limits);
  std::vector<std::string> out;
  std::vector<std::string_view> args;
  std::string kept;
  for (const std::string& piece : pieces) {
    kept += piece;
    std::string_view rest(kept);
    while (!rest.empty()) {
      const auto r = parser.parse(rest, &args);
      if (r.status == Status::kNeedMore) {
        EXPECT_GT(r.need, rest.size());
        break;
      }
      if (r.status == Status::kError) {
        out.push_back("-" + std::string(r.error));
        return out;
      }
      EXPECT_GT(r.used, 0u);
      std::string joined;
      for (size_t i = 0; i < args.size(); ++i) {
        joined += (i ? "|" : "") + std::string(args[i]);
      }
      if (!args.empty()) {
        out.push_back(joined);
      }
      rest.remove_prefix(r.used);
    }
    kept = std::string(rest);
  }
  return out;
}

std::vector<std::string> whole(const std::string& in, const ParserLimits& l = {}) {
  return run({in}, l);
}

TEST(RespRequestParserTest, MultibulkAndInline) {
  EXPECT_EQ(whole("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), std::vector<std::string>{"GET|k"});
  EXPECT_EQ(whole("PING\r\n"), std::vector<std::string>{"PING"});
  EXPECT_EQ(whole("PING\n"), std::vector<std::string>{"PING"});
  EXPECT_EQ(whole("  set   a  b \r\n"), std::vector<std::string>{"set|a|b"});
  // Empty lines and "*0"/"*-1" are commands of no arguments: skipped, as Redis does.
  EXPECT_EQ(whole("\r\n\r\n*0\r\n*-1\r\nPING\r\n"), std::vector<std::string>{"PING"});
  EXPECT_EQ(whole("*1\r\n$0\r\n\r\n"), std::vector<std::string>{""});
  // Binary-safe bulk strings.
  EXPECT_EQ(whole(std::string("*1\r\n$3\r\na\0\n\r\n", 13)),
            std::vector<std::string>{std::string("a\0\n", 3)});
}

TEST(RespRequestParserTest, InlineQuotesAsRedisSplitsThem) {
  EXPECT_EQ(whole("set 'a b' \"c\\x41\\n\"\r\n"), std::vector<std::string>{"set|a b|cA\n"});
  EXPECT_EQ(whole("set \"\" x\r\n"), std::vector<std::string>{"set||x"});
  EXPECT_EQ(whole("a 'it\\'s'\r\n"), std::vector<std::string>{"a|it's"});
  EXPECT_EQ(whole("a\"b c\"d\r\n"),
            std::vector<std::string>{"-ERR Protocol error: unbalanced quotes in request"});
  EXPECT_EQ(whole("set \"a b\r\n"),
            std::vector<std::string>{"-ERR Protocol error: unbalanced quotes in request"});
  EXPECT_EQ(whole("set 'a'b\r\n"),
            std::vector<std::string>{"-ERR Protocol error: unbalanced quotes in request"});
}

TEST(RespRequestParserTest, ErrorsAreRedisTexts) {
  EXPECT_EQ(whole("*1\r\n$2147483647\r\n"),
            std::vector<std::string>{"-ERR Protocol error: invalid bulk length"});
  EXPECT_EQ(whole("*1\r\n$-1\r\n"),
            std::vector<std::string>{"-ERR Protocol error: invalid bulk length"});
  EXPECT_EQ(whole("*1\r\n$x\r\n"),
            std::vector<std::string>{"-ERR Protocol error: invalid bulk length"});
  EXPECT_EQ(whole("*99999999999\r\n"),
            std::vector<std::string>{"-ERR Protocol error: invalid multibulk length"});
  EXPECT_EQ(whole("*a\r\n"),
            std::vector<std::string>{"-ERR Protocol error: invalid multibulk length"});
  EXPECT_EQ(whole("*01\r\n"),
            std::vector<std::string>{"-ERR Protocol error: invalid multibulk length"});
  EXPECT_EQ(whole("*1\r\nx\r\n"),
            std::vector<std::string>{"-ERR Protocol error: expected '$', got 'x'"});
  // Commands before the error are still commands.
  EXPECT_EQ(whole("PING\r\n*1\r\n+x\r\n"),
            (std::vector<std::string>{"PING", "-ERR Protocol error: expected '$', got '+'"}));
}

TEST(RespRequestParserTest, EveryLimit) {
  ParserLimits l;
  l.max_bulk = 4;
  l.max_multibulk = 3;
  l.max_inline = 16;
  EXPECT_EQ(whole("*1\r\n$4\r\nPING\r\n", l), std::vector<std::string>{"PING"});
  EXPECT_EQ(whole("*1\r\n$5\r\n", l),
            std::vector<std::string>{"-ERR Protocol error: invalid bulk length"});
  EXPECT_EQ(whole("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", l), std::vector<std::string>{"a|b|c"});
  EXPECT_EQ(whole("*4\r\n", l),
            std::vector<std::string>{"-ERR Protocol error: invalid multibulk length"});
  // Lines without their end: an inline command, a count, a bulk length.
  EXPECT_EQ(whole(std::string(16, 'a'), l), std::vector<std::string>{});
  EXPECT_EQ(whole(std::string(17, 'a'), l),
            std::vector<std::string>{"-ERR Protocol error: too big inline request"});
  // Whether the line's end came in the same read or not: the answer depends on the bytes alone.
  EXPECT_EQ(whole(std::string(17, 'a') + "\r\n", l),
            std::vector<std::string>{"-ERR Protocol error: too big inline request"});
  // The line's CR counts, as it does in Redis while the LF has not come.
  EXPECT_EQ(whole(std::string(15, 'a') + "\r\n", l),
            std::vector<std::string>{std::string(15, 'a')});
  EXPECT_EQ(whole("*" + std::string(17, '1'), l),
            std::vector<std::string>{"-ERR Protocol error: too big mbulk count string"});
  EXPECT_EQ(whole("*1\r\n$" + std::string(17, '1'), l),
            std::vector<std::string>{"-ERR Protocol error: too big bulk count string"});
  // The per-connection cap on bulk length (what the connection can hold) applies too.
  RequestParser p(ParserLimits{});
  p.setMaxBulk(10);
  std::vector<std::string_view> args;
  auto r = p.parse("*1\r\n$11\r\n", &args);
  EXPECT_EQ(r.status, Status::kError);
  r = p.parse("*1\r\n$10\r\n", &args);
  EXPECT_EQ(r.status, Status::kNeedMore);
  EXPECT_EQ(r.need, 9u + 12u);  // the header, the argument and its CRLF
}

TEST(RespRequestParserTest, ParseInt64IsRedisString2ll) {
  int64_t v = 0;
  EXPECT_TRUE(parseInt64("0", &v));
  EXPECT_TRUE(parseInt64("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  EXPECT_TRUE(parseInt64("9223372036854775807", &v));
  EXPECT_FALSE(parseInt64("9223372036854775808", &v));
  EXPECT_FALSE(parseInt64("01", &v));
  EXPECT_FALSE(parseInt64("-0", &v));
  EXPECT_FALSE(parseInt64("+1", &v));
  EXPECT_FALSE(parseInt64(" 1", &v));
  EXPECT_FALSE(parseInt64("", &v));
  EXPECT_FALSE(parseInt64("-", &v));
}

const std::string kPipeline =
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n"
    "PING\r\n"
    "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
    "\r\n"
    "set 'q u' \"x\\x41\"\n"
    "*0\r\n"
    "*1\r\n$4\r\nQUIT\r\n"
    "*1\r\n$1\r\nx\r\n*1\r\n$4294967296\r\n";

TEST(RespRequestParserTest, SplitAtEveryByteReadsTheSame) {
  const auto expected = whole(kPipeline);
  ASSERT_EQ(expected.size(), 7u);
  EXPECT_EQ(expected.back(), "-ERR Protocol error: invalid bulk length");
  for (size_t at = 1; at < kPipeline.size(); ++at) {
    EXPECT_EQ(run({kPipeline.substr(0, at), kPipeline.substr(at)}), expected) << "split at " << at;
  }
  std::vector<std::string> bytes;
  for (char c : kPipeline) {
    bytes.emplace_back(1, c);
  }
  EXPECT_EQ(run(bytes), expected);
}

TEST(RespRequestParserTest, RandomSplitsReadTheSame) {
  const auto expected = whole(kPipeline);
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> pieces;
    size_t at = 0;
    while (at < kPipeline.size()) {
      const size_t n = 1 + rng() % 9;
      pieces.push_back(kPipeline.substr(at, n));
      at += n;
    }
    EXPECT_EQ(run(pieces), expected) << "round " << round;
  }
}

}  // namespace
}  // namespace portd::handlers::resp
