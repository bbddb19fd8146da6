// The echo endpoint's query knobs: probability lists, values, limits and error messages.

#include <gtest/gtest.h>

#include "handlers/http/echo_endpoint.h"
#include "handlers/http/knobs.h"
#include "handlers/http/xorshift.h"

using namespace portd::handlers::http;

namespace {

std::string errorOf(std::string_view query, EchoLimits limits = {}) {
  EchoKnobs knobs;
  std::string scratch;
  std::string error;
  EXPECT_FALSE(parseEchoKnobs(query, limits, &knobs, &scratch, &error)) << query;
  return error;
}

EchoKnobs parse(std::string_view query, std::string* scratch, EchoLimits limits = {}) {
  EchoKnobs knobs;
  std::string error;
  EXPECT_TRUE(parseEchoKnobs(query, limits, &knobs, scratch, &error)) << query << ": " << error;
  return knobs;
}

}  // namespace

TEST(HttpKnobs, Percentages) {
  uint32_t ppm = 0;
  EXPECT_TRUE(parsePercent("10", &ppm));
  EXPECT_EQ(ppm, 100000u);
  EXPECT_TRUE(parsePercent("2.5", &ppm));
  EXPECT_EQ(ppm, 25000u);
  EXPECT_TRUE(parsePercent("0.0001", &ppm));
  EXPECT_EQ(ppm, 1u);
  EXPECT_TRUE(parsePercent("100", &ppm));
  EXPECT_EQ(ppm, kPpm);
  EXPECT_TRUE(parsePercent("0", &ppm));
  EXPECT_EQ(ppm, 0u);
  for (const char* bad :
       {"", "100.01", "101", "1000", "-1", "1.", ".5", "1.00001", "a", "1e2", "5%", " 5"}) {
    EXPECT_FALSE(parsePercent(bad, &ppm)) << bad;
  }
}

TEST(HttpKnobs, ProbabilityListWithDefault) {
  Choices<int> c;
  std::string error;
  ASSERT_TRUE(parseChoices<int>("status", "503:10,429:5", parseStatusValue, &c, &error)) << error;
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.value(0), 503);
  EXPECT_EQ(c.ppm(0), 100000u);
  EXPECT_EQ(c.value(1), 429);
  EXPECT_EQ(c.ppm(1), 50000u);
  // The rolls map onto [0, 10%) -> 503, [10%, 15%) -> 429, the rest -> the default.
  EXPECT_EQ(c.pick(0, 200), 503);
  EXPECT_EQ(c.pick(99999, 200), 503);
  EXPECT_EQ(c.pick(100000, 200), 429);
  EXPECT_EQ(c.pick(149999, 200), 429);
  EXPECT_EQ(c.pick(150000, 200), 200);
  EXPECT_EQ(c.pick(kPpm - 1, 200), 200);
}

TEST(HttpKnobs, EntryWithoutPercentageTakesTheRest) {
  Choices<int> c;
  std::string error;
  ASSERT_TRUE(parseChoices<int>("status", "503:10,201", parseStatusValue, &c, &error)) << error;
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.ppm(1), 900000u);
  EXPECT_EQ(c.pick(kPpm - 1, 200), 201);
  ASSERT_TRUE(parseChoices<int>("status", "418", parseStatusValue, &c, &error));
  EXPECT_EQ(c.pick(0, 200), 418);
  EXPECT_EQ(c.pick(kPpm - 1, 200), 418);
}

TEST(HttpKnobs, DelayList) {
  Choices<uint64_t> c;
  std::string error;
  ASSERT_TRUE(parseChoices<uint64_t>("delay", "100ms:20,10ms:5", parseDelayValue, &c, &error))
      << error;
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.value(0), 100u);
  EXPECT_EQ(c.value(1), 10u);
  EXPECT_EQ(c.max(), 100u);
  ASSERT_TRUE(parseChoices<uint64_t>("delay", "1s", parseDelayValue, &c, &error));
  EXPECT_EQ(c.value(0), 1000u);
}

TEST(HttpKnobs, ListErrors) {
  Choices<int> c;
  struct Case {
    const char* text;
    const char* message;
  };
  for (Case k : {Case{"", "empty entry"}, Case{"503:10,,429:5", "empty entry"},
                 Case{"503:10,", "empty entry"}, Case{"abc", "invalid status \"abc\""},
                 Case{"199", "200 to 599"}, Case{"600", "200 to 599"},
                 Case{"503:x", "invalid percentage \"x\""}, Case{"503:60,429:41", "more than 100"},
                 Case{"503,429", "only one entry"}, Case{"503:", "invalid percentage"}}) {
    std::string error;
    EXPECT_FALSE(parseChoices<int>("status", k.text, parseStatusValue, &c, &error)) << k.text;
    EXPECT_NE(error.find(k.message), std::string::npos) << k.text << ": " << error;
    EXPECT_TRUE(error.starts_with("status: ")) << error;
  }
  std::string many;
  for (int i = 0; i < 17; ++i) {
    many += (i ? "," : "") + std::string("500:1");
  }
  std::string error;
  EXPECT_FALSE(parseChoices<int>("status", many, parseStatusValue, &c, &error));
  EXPECT_NE(error.find("too many entries"), std::string::npos) << error;
}

TEST(HttpKnobs, ParsesEveryKnob) {
  std::string scratch;
  EchoKnobs k = parse(
      "status=503:10&delay=50ms&size=1KiB&close=true:25&header=X-Foo:bar&other=ignored&"
      "header=X-Enc%3A+a%2Cb",
      &scratch);
  EXPECT_EQ(k.status.size(), 1u);
  EXPECT_EQ(k.delay_ms.value(0), 50u);
  EXPECT_EQ(k.size.value(0), 1024u);
  EXPECT_EQ(k.close.value(0), true);
  EXPECT_EQ(k.close.ppm(0), 250000u);
  ASSERT_EQ(k.header_count, 2u);
  EXPECT_EQ(k.header_names[0], "X-Foo");
  EXPECT_EQ(k.header_values[0], "bar");
  EXPECT_EQ(k.header_names[1], "X-Enc");
  EXPECT_EQ(k.header_values[1], "a,b");
}

TEST(HttpKnobs, HeaderWithAProbability) {
  std::string scratch;
  EchoKnobs k =
      parse("header=X-Chance:yes:12.5&header=X-Time:12:30:100&header=X-Plain:a:b", &scratch);
  ASSERT_EQ(k.header_count, 3u);
  EXPECT_EQ(k.header_names[0], "X-Chance");
  EXPECT_EQ(k.header_values[0], "yes");
  EXPECT_EQ(k.header_ppm[0], 125000u);
  // ":100" keeps a value that ends in ":digits" whole.
  EXPECT_EQ(k.header_values[1], "12:30");
  EXPECT_EQ(k.header_ppm[1], kPpm);
  // A last part that is not a percentage belongs to the value.
  EXPECT_EQ(k.header_values[2], "a:b");
  EXPECT_EQ(k.header_ppm[2], kPpm);

  // Drawn once per request, independently of the other knobs.
  uint32_t rolls[] = {124999, 125000};
  for (uint32_t r : rolls) {
    EchoDecision d = decideEcho(k, [r] { return r; });
    EXPECT_EQ((d.headers & 1u) != 0, r < 125000u) << r;
    EXPECT_NE(d.headers & 2u, 0u);
  }
}

TEST(HttpKnobs, EmptyQueryMeansNoKnobs) {
  std::string scratch;
  EchoKnobs k = parse("", &scratch);
  EXPECT_TRUE(k.status.empty());
  EXPECT_TRUE(k.delay_ms.empty());
  EXPECT_TRUE(k.size.empty());
  EXPECT_TRUE(k.close.empty());
  EXPECT_EQ(k.header_count, 0u);
  k = parse("&&a&b=", &scratch);
  EXPECT_TRUE(k.status.empty());
}

TEST(HttpKnobs, HeaderViewsSurviveLaterDecoding) {
  // Views into the scratch buffer must not dangle when later parameters are decoded into it.
  std::string scratch;
  std::string query;
  for (int i = 0; i < 16; ++i) {
    query += "header=X-" + std::to_string(i) + ":" + std::string(100, 'a' + i % 26) + "&";
  }
  EchoKnobs k = parse(query, &scratch);
  ASSERT_EQ(k.header_count, 16u);
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(k.header_names[i], "X-" + std::to_string(i));
    EXPECT_EQ(k.header_values[i], std::string(100, static_cast<char>('a' + i % 26)));
  }
}

TEST(HttpKnobs, Limits) {
  EchoLimits limits;
  limits.max_delay_ms = 1000;
  limits.max_size = 100;
  std::string scratch;
  parse("delay=1s&size=100", &scratch, limits);
  EXPECT_EQ(errorOf("delay=1001ms", limits), "delay: 1001ms is over max_delay (1s)");
  EXPECT_EQ(errorOf("size=101", limits), "size: 101 bytes is over max_size (100 bytes)");
  EXPECT_NE(errorOf("delay=1ms:99,2s:1", limits).find("over max_delay"), std::string::npos);
}

TEST(HttpKnobs, BadQueries) {
  struct Case {
    const char* query;
    const char* message;
  };
  for (Case k : {Case{"status=abc", "status: invalid status"},
                 Case{"status=200&status=201", "status: given more than once"},
                 Case{"delay=10", "needs a unit"}, Case{"size=big", "invalid size"},
                 Case{"close=maybe", "invalid boolean"}, Case{"header=X-A", "header: expected"},
                 Case{"header=:v", "header: expected"}, Case{"header=X%20A:v", "header: expected"},
                 Case{"header=X-A:a%0D%0AInjected:1", "header: expected"},
                 Case{"header=X-A:a%00", "header: expected"},
                 Case{"header=Content-Length:1", "set by the server"},
                 Case{"header=transfer-encoding:chunked", "set by the server"},
                 Case{"status=%2", "percent-encoding"}, Case{"status=%zz", "percent-encoding"}}) {
    std::string error = errorOf(k.query);
    EXPECT_NE(error.find(k.message), std::string::npos) << k.query << ": " << error;
  }
  std::string many;
  for (int i = 0; i < 17; ++i) {
    many += "header=X-A:b&";
  }
  EXPECT_NE(errorOf(many).find("more than 16"), std::string::npos);
}

TEST(HttpKnobs, PercentDecoding) {
  std::string out;
  EXPECT_TRUE(percentDecode("a+b%41%2f%2F", &out));
  EXPECT_EQ(out, "a bA//");
  out.clear();
  EXPECT_FALSE(percentDecode("%4", &out));
  EXPECT_FALSE(percentDecode("%g0", &out));
}

TEST(HttpKnobs, DecideDrawsEachKnob) {
  std::string scratch;
  EchoKnobs k = parse("status=503&delay=5ms&size=7&close=1", &scratch);
  EchoDecision d = decideEcho(k, [] { return 0u; });
  EXPECT_EQ(d.status, 503);
  EXPECT_EQ(d.delay_ms, 5u);
  EXPECT_TRUE(d.has_size);
  EXPECT_EQ(d.size, 7u);
  EXPECT_TRUE(d.close);

  // With rolls past every entry, the defaults: 200, no delay, the echo, keep-alive.
  k = parse("status=503:10&delay=5ms:10&size=7:10&close=1:10", &scratch);
  d = decideEcho(k, [] { return kPpm - 1; });
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.delay_ms, 0u);
  EXPECT_FALSE(d.has_size);
  EXPECT_FALSE(d.close);
}

TEST(HttpKnobs, XorshiftIsUniformEnough) {
  Xorshift64 rng(12345);
  constexpr int kDraws = 100000;
  int below_tenth = 0;
  for (int i = 0; i < kDraws; ++i) {
    uint32_t v = rng.below(kPpm);
    ASSERT_LT(v, kPpm);
    below_tenth += v < kPpm / 10 ? 1 : 0;
  }
  // Binomial(100000, 0.1): sigma about 95; six sigma either side.
  EXPECT_NEAR(below_tenth, kDraws / 10, 6 * 95);
  // A zero seed would stay zero forever; it is replaced.
  Xorshift64 zero(0);
  EXPECT_NE(zero.next(), 0u);
}
