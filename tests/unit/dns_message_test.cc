// The dns handler's query parser, fed hostile messages byte by byte.

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "dns_test_util.h"
#include "handlers/dns/message.h"

namespace portd::handlers::dns {
namespace {

using test::query;
using test::u16;
using test::wireName;

ParseResult parse(const std::string& m, Query* q) {
  // A heap copy of exactly the message's size, so that ASan sees a read past its end.
  std::vector<uint8_t> copy(m.begin(), m.end());
  return parseQuery(copy.data(), copy.size(), q);
}

TEST(DnsHandlerMessageTest, ReadsAQueryWithItsCaseAndEdns) {
  Query q;
  ASSERT_EQ(parse(query("WwW.ExAmPlE.com", 28, 1232), &q), ParseResult::kOk);
  EXPECT_EQ(q.id, 0x1234);
  EXPECT_EQ(q.qtype, 28);
  EXPECT_EQ(q.qclass, 1);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(q.qname), q.qname_len),
            wireName("WwW.ExAmPlE.com"));
  EXPECT_TRUE(q.edns);
  EXPECT_EQ(q.payload, 1232);
  EXPECT_EQ(q.edns_version, 0);
}

TEST(DnsHandlerMessageTest, DropsWhatCannotBeAnswered) {
  Query q;
  EXPECT_EQ(parse(std::string(11, '\0'), &q), ParseResult::kDrop);
  EXPECT_EQ(parse("", &q), ParseResult::kDrop);
  // QR=1: answering a response is how two servers loop.
  EXPECT_EQ(parse(query("a.b", 1, 0, 0x8100), &q), ParseResult::kDrop);
}

TEST(DnsHandlerMessageTest, RefusesEveryTruncationOfAQuery) {
  const std::string m = query("www.example.com", 1, 1232);
  for (size_t n = kHeaderSize; n < m.size(); ++n) {
    Query q;
    EXPECT_EQ(parse(m.substr(0, n), &q), ParseResult::kFormErr) << n;
  }
}

TEST(DnsHandlerMessageTest, CountsThatOverstateTheMessageAreFormErr) {
  Query q;
  std::string m = query("www.example.com", 1);
  m[7] = 1;  // ANCOUNT 1, no record follows
  EXPECT_EQ(parse(m, &q), ParseResult::kFormErr);
  m = query("www.example.com", 1);
  m[11] = 3;
  EXPECT_EQ(parse(m, &q), ParseResult::kFormErr);
  m = query("www.example.com", 1);
  m[5] = 2;  // QDCOUNT 2
  EXPECT_EQ(parse(m, &q), ParseResult::kFormErr);
  m[5] = 0;
  EXPECT_EQ(parse(m, &q), ParseResult::kFormErr);
  EXPECT_EQ(parse(query("www.example.com", 1) + "x", &q), ParseResult::kFormErr);
}

TEST(DnsHandlerMessageTest, PointersGoOnlyBackwards) {
  Query q;
  // A question whose name points at itself.
  std::string m = u16(1) + u16(0) + u16(1) + u16(0) + u16(0) + u16(0);
  m += "\xC0\x0C" + u16(1) + u16(1);
  EXPECT_EQ(parse(m, &q), ParseResult::kFormErr);
  // Forward, to a name after it.
  m = u16(1) + u16(0) + u16(1) + u16(0) + u16(0) + u16(0) + "\xC0\x12" + u16(1) + u16(1) +
      wireName("a");
  EXPECT_EQ(parse(m, &q), ParseResult::kFormErr);
  // Backwards, into the header (two zero bytes there: the root): allowed, and read as such.
  m = u16(1) + u16(0) + u16(1) + u16(0) + u16(0) + u16(0) + "\xC0\x06" + u16(1) + u16(1);
  ASSERT_EQ(parse(m, &q), ParseResult::kOk);
  EXPECT_EQ(q.qname_len, 1);
}

TEST(DnsHandlerMessageTest, AnAnswerRecordMayPointBackAtTheQuestion) {
  Query q;
  std::string m = u16(7) + u16(0) + u16(1) + u16(1) + u16(0) + u16(0);
  m += wireName("a.example") + u16(1) + u16(1);
  m += "\xC0\x0C" + u16(1) + u16(1) + std::string(4, '\0') + u16(4) + "abcd";
  EXPECT_EQ(parse(m, &q), ParseResult::kOk);
}

TEST(DnsHandlerMessageTest, PointerChainsAreBounded) {
  // Each pointer goes back to the one before it, 20 deep: backwards, but too many hops.
  std::string m = u16(1) + u16(0) + u16(1) + u16(0) + u16(0) + u16(0);
  const size_t first = m.size();
  m += wireName("a");
  std::string chain;
  size_t prev = first;
  std::string body = m;
  for (int i = 0; i < 20; ++i) {
    const size_t here = body.size();
    body += static_cast<char>(0xC0 | (prev >> 8));
    body += static_cast<char>(prev & 0xFF);
    prev = here;
  }
  uint8_t out[kMaxName];
  size_t n = 0;
  size_t pos = prev;
  const auto* p = reinterpret_cast<const uint8_t*>(body.data());
  EXPECT_FALSE(readName(p, body.size(), &pos, out, &n));
  pos = first + 3 + 2 * 3;  // three hops
  EXPECT_TRUE(readName(p, body.size(), &pos, out, &n));
  EXPECT_EQ(n, 3u);
}

TEST(DnsHandlerMessageTest, LabelAndNameLengthsAreChecked) {
  Query q;
  EXPECT_EQ(parse(query(std::string(63, 'a') + ".b", 1), &q), ParseResult::kOk);
  std::string m = query(std::string(64, 'a') + ".b", 1);  // 64: the 0x40 label type
  EXPECT_EQ(parse(m, &q), ParseResult::kFormErr);
  std::string long_name;
  for (int i = 0; i < 4; ++i) {
    long_name += std::string(62, 'x') + ".";
  }
  long_name += "y";  // 4 * 63 + 2 + 1 = 255: the most there is
  EXPECT_EQ(parse(query(long_name, 1), &q), ParseResult::kOk);
  EXPECT_EQ(parse(query(long_name + "y", 1), &q), ParseResult::kFormErr);
}

TEST(DnsHandlerMessageTest, OptMustBeOneAndAtTheRoot) {
  Query q;
  const std::string opt =
      std::string(1, '\0') + u16(41) + u16(1232) + std::string(4, '\0') + u16(0);
  std::string m = query("a.b", 1, 1232);
  m[11] = 2;
  EXPECT_EQ(parse(m + opt, &q), ParseResult::kFormErr);
  m = query("a.b", 1);
  m[11] = 1;
  EXPECT_EQ(parse(m + wireName("x") + opt.substr(1), &q), ParseResult::kFormErr);
}

TEST(DnsHandlerMessageTest, OtherOpcodesAreNotImpWithTheirQuestion) {
  Query q;
  ASSERT_EQ(parse(query("a.b", 6, 0, 0x2000), &q), ParseResult::kNotImp);  // UPDATE
  EXPECT_TRUE(q.has_question);
  EXPECT_EQ(parse(std::string(2, '\0') + u16(0x1000) + std::string(8, '\0'), &q),
            ParseResult::kNotImp);
}

}  // namespace
}  // namespace portd::handlers::dns
