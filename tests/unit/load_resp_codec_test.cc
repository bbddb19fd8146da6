// resp:// in `portd load`: the mix, the requests as written, and the RESP2 reply reader on
// canned server bytes, whole, split at every byte, pipelined, and malformed.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "load/options.h"
#include "load/resp_codec.h"

namespace portd::load {
namespace {

struct RecordingSink : ResponseSink {
  int first_bytes = 0;
  std::vector<int> statuses;
  void onFirstByte() override { ++first_bytes; }
  void onResponse(int status) override { statuses.push_back(status); }
};

LoadOptions respOptions(std::string mix, uint64_t keys = 10000, size_t value = 3) {
  LoadOptions o;
  o.target.scheme = Scheme::kResp;
  o.mix = std::move(mix);
  o.keys = keys;
  o.message_size = value;
  return o;
}

// The replies RespReplyParser reads from `in` fed in `pieces`; "M" for malformed (and stop).
std::vector<std::string> parseInPieces(std::string_view in, const std::vector<size_t>& cuts,
                                       RespReplyParser::Limits limits = {}) {
  RespReplyParser p(limits);
  std::vector<std::string> out;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(in.size());
  for (size_t end : ends) {
    std::string_view piece = in.substr(from, end - from);
    from = end;
    while (!piece.empty()) {
      size_t used = 0;
      const auto s = p.feed(piece, &used);
      EXPECT_LE(used, piece.size());
      if (s == RespReplyParser::Status::kMalformed) {
        out.push_back("M");
        return out;
      }
      if (s == RespReplyParser::Status::kNeedMore) {
        EXPECT_EQ(used, piece.size());
      } else {
        EXPECT_GT(used, 0u);
        out.push_back(p.errorReply() ? "error" : "reply");
      }
      piece.remove_prefix(used);
    }
  }
  if (p.inReply()) {
    out.push_back("partial");
  }
  return out;
}

std::vector<std::string> parseWhole(std::string_view in, RespReplyParser::Limits limits = {}) {
  return parseInPieces(in, {}, limits);
}

TEST(RespMixTest, EmptyIsAsManyGetsAsSets) {
  RespMix m;
  std::string why;
  ASSERT_TRUE(parseRespMix("", &m, &why)) << why;
  EXPECT_EQ(m.weights[static_cast<size_t>(RespCommand::kGet)], 1u);
  EXPECT_EQ(m.weights[static_cast<size_t>(RespCommand::kSet)], 1u);
  EXPECT_EQ(m.total(), 2u);
}

TEST(RespMixTest, ReadsWeightsInAnyCaseWithSpaces) {
  RespMix m;
  std::string why;
  ASSERT_TRUE(parseRespMix("get=8, SET=1 ,ping = 1,incr=0,del=2", &m, &why)) << why;
  EXPECT_EQ(m.weights[static_cast<size_t>(RespCommand::kGet)], 8u);
  EXPECT_EQ(m.weights[static_cast<size_t>(RespCommand::kSet)], 1u);
  EXPECT_EQ(m.weights[static_cast<size_t>(RespCommand::kPing)], 1u);
  EXPECT_EQ(m.weights[static_cast<size_t>(RespCommand::kIncr)], 0u);
  EXPECT_EQ(m.weights[static_cast<size_t>(RespCommand::kDel)], 2u);
}

TEST(RespMixTest, RefusesWhatItCannotSend) {
  for (const char* bad : {"get", "get=", "=1", "get=-1", "get=1001", "get=1x", "get=99999",
                          "flushall=1", "get=1,get=2", "get=1,", ",get=1", "get=0,set=0"}) {
    RespMix m;
    std::string why;
    EXPECT_FALSE(parseRespMix(bad, &m, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(RespCodecTest, WritesEachCommandAsARespArray) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"get=1", "*2\r\n$3\r\nGET\r\n$10\r\nkey:000000\r\n"},
      {"set=1", "*3\r\n$3\r\nSET\r\n$10\r\nkey:000000\r\n$3\r\nxxx\r\n"},
      {"ping=1", "*1\r\n$4\r\nPING\r\n"},
      {"incr=1", "*2\r\n$4\r\nINCR\r\n$14\r\ncounter:000000\r\n"},
      {"del=1", "*2\r\n$3\r\nDEL\r\n$10\r\nkey:000000\r\n"},
  };
  for (const auto& [mix, expected] : cases) {
    RespCodec codec(respOptions(mix, 1), 7);
    std::string out;
    codec.request(out);
    EXPECT_EQ(out, expected) << mix;
  }
}

TEST(RespCodecTest, KeysAreWideEnoughForTheKeySpaceAndStayInIt) {
  RespCodec codec(respOptions("get=1", 12345678), 1);
  std::string out;
  std::vector<bool> seen_first_digit(10, false);
  for (int i = 0; i < 2000; ++i) {
    out.clear();
    codec.request(out);
    const std::string prefix = "*2\r\n$3\r\nGET\r\n$12\r\nkey:";
    ASSERT_EQ(out.compare(0, prefix.size(), prefix), 0) << out;
    const std::string digits = out.substr(prefix.size(), 8);
    ASSERT_EQ(out.substr(prefix.size() + 8), "\r\n");
    const uint64_t k = std::stoull(digits);
    EXPECT_LT(k, 12345678u);
    seen_first_digit[static_cast<size_t>(digits[0] - '0')] = true;
  }
  // Spread over the key space, not stuck at its start.
  EXPECT_TRUE(seen_first_digit[0] && seen_first_digit[1]);
}

TEST(RespCodecTest, FollowsTheMixExactlyOverEachRound) {
  RespCodec codec(respOptions("get=8,set=1,ping=1", 100, 5), 3);
  std::string out;
  int get = 0;
  int set = 0;
  int ping = 0;
  for (int i = 0; i < 1000; ++i) {
    out.clear();
    codec.request(out);
    get += out.find("GET") != std::string::npos;
    set += out.find("SET") != std::string::npos;
    ping += out.find("PING") != std::string::npos;
  }
  EXPECT_EQ(get, 800);
  EXPECT_EQ(set, 100);
  EXPECT_EQ(ping, 100);
}

TEST(RespCodecTest, RequestsAreFramedAndWrittenWithoutGrowingTheBuffer) {
  RespCodec codec(respOptions("get=3,set=2,ping=1,incr=1,del=1", 1000, 100), 5);
  std::string out;
  out.reserve(4096);
  const char* data = out.data();
  std::string all;
  for (int i = 0; i < 500; ++i) {
    out.clear();
    codec.request(out);
    all += out;
    // Written into the reused buffer: no allocation of its own per request.
    EXPECT_EQ(out.data(), data);
  }
  // A request is an array of bulk strings, which the reply reader frames as well.
  const auto replies = parseWhole(all);
  EXPECT_EQ(replies.size(), 500u);
  EXPECT_EQ(std::count(replies.begin(), replies.end(), "reply"), 500);
}

// Every type RESP2 has, an error at the top and one inside an array (the reply is the array).
constexpr std::string_view kCanned =
    "+OK\r\n"
    "-ERR wrong number of arguments\r\n"
    ":1000\r\n"
    ":-5\r\n"
    "$5\r\nhello\r\n"
    "$0\r\n\r\n"
    "$-1\r\n"
    "$4\r\n\r\n\r\n\r\n"  // CRLF inside a bulk string is data
    "*2\r\n$3\r\nfoo\r\n:1\r\n"
    "*-1\r\n"
    "*0\r\n"
    "*3\r\n*1\r\n+a\r\n*0\r\n$-1\r\n"
    "*1\r\n-ERR inside\r\n"
    "-WRONGTYPE Operation against a key\r\n"
    ":-9223372036854775808\r\n";
const std::vector<int> kCannedStatuses = {1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1};

TEST(RespReplyParserTest, ReadsEveryTypeWholeAndSplitAtEveryByte) {
  const std::vector<std::string> expected = {"reply", "error", "reply", "reply", "reply",
                                             "reply", "reply", "reply", "reply", "reply",
                                             "reply", "reply", "reply", "error", "reply"};
  EXPECT_EQ(parseWhole(kCanned), expected);
  for (size_t cut = 1; cut < kCanned.size(); ++cut) {
    ASSERT_EQ(parseInPieces(kCanned, {cut}), expected) << "cut at " << cut;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < kCanned.size(); ++i) {
    every.push_back(i);
  }
  EXPECT_EQ(parseInPieces(kCanned, every), expected);
}

TEST(RespCodecTest, CountsPipelinedRepliesAndErrorRepliesWhateverTheSplit) {
  for (size_t piece = 1; piece <= kCanned.size(); ++piece) {
    RespCodec codec(respOptions("get=1"), 1);
    std::string out;
    for (size_t i = 0; i < kCannedStatuses.size(); ++i) {
      codec.request(out);
    }
    RecordingSink sink;
    for (size_t at = 0; at < kCanned.size(); at += piece) {
      ASSERT_EQ(codec.read(kCanned.substr(at, piece), sink), Codec::Read::kOk)
          << "pieces of " << piece;
    }
    ASSERT_EQ(sink.statuses, kCannedStatuses) << "pieces of " << piece;
    EXPECT_EQ(sink.first_bytes, static_cast<int>(kCannedStatuses.size()));
  }
}

TEST(RespCodecTest, AReplyNobodyAskedForIsMalformed) {
  RespCodec codec(respOptions("ping=1"), 1);
  std::string out;
  codec.request(out);
  RecordingSink sink;
  EXPECT_EQ(codec.read("+PONG\r\n+PONG\r\n", sink), Codec::Read::kMalformed);
  EXPECT_EQ(sink.statuses, std::vector<int>{kRespReply});
}

TEST(RespCodecTest, ResetForgetsAHalfReadReply) {
  RespCodec codec(respOptions("get=1"), 1);
  std::string out;
  codec.request(out);
  RecordingSink sink;
  EXPECT_EQ(codec.read("$10\r\nhal", sink), Codec::Read::kOk);
  codec.reset();
  codec.request(out);
  EXPECT_EQ(codec.read("$-1\r\n", sink), Codec::Read::kOk);
  EXPECT_EQ(sink.statuses, std::vector<int>{kRespReply});
}

TEST(RespReplyParserTest, RefusesWhatIsNotRESP2) {
  for (const char* bad : {
           "OK\r\n",                    // no type
           "_\r\n",                     // RESP3 null
           "%1\r\n+a\r\n+b\r\n",        // RESP3 map
           "#t\r\n",                    // RESP3 boolean
           "+OK\n",                     // bare LF
           "+O\rK\r\n",                 // bare CR
           "-ERR\nx\r\n",               // LF inside a line
           ":\r\n",                     // no digits
           ":-\r\n",                    // a sign alone
           ":12a\r\n",                  // not a number
           ": 1\r\n",                   // a space
           ":+1\r\n",                   // no plus sign in RESP
           ":9223372036854775808\r\n",  // over a 64-bit signed integer
           ":-9223372036854775809\r\n",
           ":0000000000000000000000001\r\n",  // too many digits
           "$-2\r\n",                         // the only negative length is -1
           "$-0\r\n",
           "*-3\r\n",
           "$3\r\nabcd\r\n",   // longer than announced
           "$3\r\nab\r\n",     // shorter
           "$3\r\nabc\n",      // no CR after the data
           "$3\r\nabc\rx",     // no LF after the CR
           "*1\r\nhello\r\n",  // an element without a type
           ":1\r",
           ":1\rx",
       }) {
    const auto r = parseWhole(bad);
    // Malformed, or at worst still waiting: never a reply.
    ASSERT_FALSE(r.empty()) << bad;
    EXPECT_TRUE(r.back() == "M" || (std::string_view(bad).ends_with("\r") && r.back() == "partial"))
        << bad;
    EXPECT_EQ(std::count(r.begin(), r.end(), "reply"), 0) << bad;
  }
}

TEST(RespReplyParserTest, MalformedSticksUntilReset) {
  RespReplyParser p;
  size_t used = 0;
  EXPECT_EQ(p.feed("?", &used), RespReplyParser::Status::kMalformed);
  EXPECT_EQ(p.feed("+OK\r\n", &used), RespReplyParser::Status::kMalformed);
  p.reset();
  EXPECT_EQ(p.feed("+OK\r\n", &used), RespReplyParser::Status::kReply);
  EXPECT_EQ(used, 5u);
}

TEST(RespReplyParserTest, EnforcesItsLimits) {
  RespReplyParser::Limits small;
  small.max_bulk = 8;
  small.max_count = 3;
  small.max_depth = 2;
  small.max_line = 10;
  EXPECT_EQ(parseWhole("$8\r\n12345678\r\n", small), std::vector<std::string>{"reply"});
  EXPECT_EQ(parseWhole("$9\r\n", small), std::vector<std::string>{"M"});
  EXPECT_EQ(parseWhole("*3\r\n:1\r\n:2\r\n:3\r\n", small), std::vector<std::string>{"reply"});
  EXPECT_EQ(parseWhole("*4\r\n", small), std::vector<std::string>{"M"});
  EXPECT_EQ(parseWhole("*1\r\n*1\r\n:1\r\n", small), std::vector<std::string>{"reply"});
  EXPECT_EQ(parseWhole("*1\r\n*1\r\n*1\r\n:1\r\n", small), std::vector<std::string>{"M"});
  EXPECT_EQ(parseWhole("+0123456789\r\n", small), std::vector<std::string>{"reply"});
  EXPECT_EQ(parseWhole("+0123456789A\r\n", small), std::vector<std::string>{"M"});
  // Split, the line limit counts across pieces.
  EXPECT_EQ(parseInPieces("-0123456789A\r\n", {4, 8}, small), std::vector<std::string>{"M"});

  // The defaults: Redis's 512 MB bulk limit, 32 levels of arrays.
  EXPECT_EQ(parseWhole("$536870913\r\n"), std::vector<std::string>{"M"});
  EXPECT_EQ(parseWhole("$536870912\r\n"), std::vector<std::string>{"partial"});
  std::string deep;
  for (int i = 0; i < 32; ++i) {
    deep += "*1\r\n";
  }
  EXPECT_EQ(parseWhole(deep + ":1\r\n"), std::vector<std::string>{"reply"});
  EXPECT_EQ(parseWhole("*1\r\n" + deep + ":1\r\n"), std::vector<std::string>{"M"});
}

TEST(RespReplyParserTest, ALargeBulkStringCostsNoMemory) {
  // 100 MB announced and streamed in 64 KiB reads: only a count is kept.
  RespReplyParser p;
  size_t used = 0;
  ASSERT_EQ(p.feed("$104857600\r\n", &used), RespReplyParser::Status::kNeedMore);
  const std::string chunk(65536, 'z');
  uint64_t left = 104857600;
  while (left > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
    ASSERT_EQ(p.feed(std::string_view(chunk).substr(0, n), &used),
              RespReplyParser::Status::kNeedMore);
    left -= n;
  }
  EXPECT_EQ(p.feed("\r\n", &used), RespReplyParser::Status::kReply);
}

}  // namespace
}  // namespace portd::load
