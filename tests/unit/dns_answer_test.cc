// The dns handler's answers, built from a small zone and read back as a client would.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns_test_util.h"
#include "handlers/dns/answer.h"
#include "handlers/dns/master_file.h"
#include "handlers/dns/message.h"
#include "handlers/dns/wire.h"

namespace portd::handlers::dns {
namespace {

using test::query;
using test::u16;
using test::wireName;

struct Rr {
  std::string owner;  // uncompressed, as received
  uint16_t type;
  uint32_t ttl;
  std::string rdata;  // as received (names inside may be compressed)
};

struct Reply {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t counts[4] = {};
  std::string question;
  std::vector<Rr> records;  // every section in order
  size_t size = 0;
  uint8_t rcode() const { return flags & 0xF; }
  bool flag(uint16_t f) const { return (flags & f) != 0; }
};

class DnsHandlerAnswerTest : public ::testing::Test {
 protected:
  DnsHandlerAnswerTest() {
    std::string big;
    for (int i = 0; i < 12; ++i) {
      big += "big TXT \"" + std::string(100, 'x') + std::to_string(i) + "\"\n";
    }
    std::vector<Record> records;
    parseMasterFile(
        "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 host 1 2 3 4 300\n"
        "@ NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.1\nwww A 192.0.2.2\n"
        "@ MX 10 mail\nmail A 192.0.2.25\nalias CNAME www\nout CNAME www.other.\n"
        "a.b.c A 192.0.2.7\n*.wild A 192.0.2.99\nhole CNAME nothing\n" +
            big,
        "test", 1000, &records);
    zones_ = ZoneSet::build(std::move(records));
  }

  Reply ask(const std::string& m, size_t limit = kMaxMessage, Override o = Override::kNone) {
    Query q;
    const ParseResult r = parseQuery(reinterpret_cast<const uint8_t*>(m.data()), m.size(), &q);
    EXPECT_NE(r, ParseResult::kDrop);
    std::vector<uint8_t> out(limit);
    AnswerInfo info;
    const size_t n = buildAnswer(zones_, settings_, q, r, o, out.data(), limit, &info);
    EXPECT_LE(n, limit);
    return read(out.data(), n);
  }

  // Reads a whole answer, checking it the way parseQuery checks a query.
  static Reply read(const uint8_t* p, size_t n) {
    Reply r;
    r.size = n;
    EXPECT_GE(n, kHeaderSize);
    if (n < kHeaderSize) {
      return r;
    }
    r.id = get16(p);
    r.flags = get16(p + 2);
    for (int i = 0; i < 4; ++i) {
      r.counts[i] = get16(p + 4 + 2 * i);
    }
    size_t pos = kHeaderSize;
    uint8_t name[kMaxName];
    size_t len = 0;
    if (r.counts[0] == 1) {
      const size_t start = pos;
      EXPECT_TRUE(readName(p, n, &pos, name, &len));
      pos += 4;
      r.question = std::string(reinterpret_cast<const char*>(p + start), pos - start);
    }
    for (int i = 0; i < r.counts[1] + r.counts[2] + r.counts[3]; ++i) {
      if (!readName(p, n, &pos, name, &len) || n - pos < 10) {
        ADD_FAILURE() << "record " << i << " does not read";
        return r;
      }
      Rr rr{std::string(reinterpret_cast<char*>(name), len), get16(p + pos), get32(p + pos + 4),
            ""};
      const size_t rdlen = get16(p + pos + 8);
      pos += 10;
      EXPECT_LE(rdlen, n - pos);
      rr.rdata = std::string(reinterpret_cast<const char*>(p + pos), rdlen);
      pos += rdlen;
      r.records.push_back(rr);
    }
    EXPECT_EQ(pos, n) << "bytes after the last record";
    return r;
  }

  ZoneSet zones_;
  AnswerSettings settings_;
};

TEST_F(DnsHandlerAnswerTest, AnswersWithTheQuestionAsWrittenAndCompressedNames) {
  const std::string m = query("WwW.ExAmPlE.cOm", kA);
  const Reply r = ask(m);
  EXPECT_EQ(r.id, 0x1234);
  EXPECT_TRUE(r.flag(kFlagQR));
  EXPECT_TRUE(r.flag(kFlagAA));
  EXPECT_TRUE(r.flag(kFlagRD));  // copied
  EXPECT_FALSE(r.flag(kFlagTC));
  EXPECT_EQ(r.rcode(), kNoError);
  EXPECT_EQ(r.question, m.substr(kHeaderSize));
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].owner, wireName("WwW.ExAmPlE.cOm"));
  EXPECT_EQ(r.records[0].rdata, std::string("\xC0\x00\x02\x01", 4));
  EXPECT_EQ(r.records[1].rdata, std::string("\xC0\x00\x02\x02", 4));
  // Header, question, then two records of pointer (2) + 10 + 4.
  EXPECT_EQ(r.size, m.size() + 2 * 16);
}

TEST_F(DnsHandlerAnswerTest, MxTargetIsCompressedAgainstTheQuestion) {
  const Reply r = ask(query("example.com", kMX));
  ASSERT_EQ(r.records.size(), 1u);
  // Preference, "mail", then a pointer to example.com in the question (offset 12).
  EXPECT_EQ(r.records[0].rdata, std::string("\0\x0A\x04mail\xC0\x0C", 9));
}

TEST_F(DnsHandlerAnswerTest, FollowsCnamesInsideTheZone) {
  Reply r = ask(query("alias.example.com", kA));
  EXPECT_EQ(r.rcode(), kNoError);
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0].type, kCNAME);
  EXPECT_EQ(r.records[1].owner, wireName("www.example.com"));
  EXPECT_EQ(r.records[1].type, kA);
  // Out of the zone: the CNAME alone.
  r = ask(query("out.example.com", kA));
  EXPECT_EQ(r.rcode(), kNoError);
  ASSERT_EQ(r.records.size(), 1u);
  // To a name that does not exist: NXDOMAIN (RFC 6604), with the SOA.
  r = ask(query("hole.example.com", kA));
  EXPECT_EQ(r.rcode(), kNxDomain);
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[1].type, kSOA);
  // Asked for the CNAME itself: not followed.
  r = ask(query("alias.example.com", kCNAME));
  ASSERT_EQ(r.records.size(), 1u);
}

TEST_F(DnsHandlerAnswerTest, NodataAndNxdomainCarryTheSoa) {
  for (const char* name : {"www.example.com", "b.c.example.com"}) {  // data, and an ENT
    const Reply r = ask(query(name, kMX));
    EXPECT_EQ(r.rcode(), kNoError) << name;
    EXPECT_TRUE(r.flag(kFlagAA));
    EXPECT_EQ(r.counts[1], 0);
    ASSERT_EQ(r.counts[2], 1);
    EXPECT_EQ(r.records[0].type, kSOA);
    EXPECT_EQ(r.records[0].ttl, 300u);  // min(TTL 3600, MINIMUM 300): RFC 2308
  }
  const Reply r = ask(query("nope.example.com", kA));
  EXPECT_EQ(r.rcode(), kNxDomain);
  EXPECT_TRUE(r.flag(kFlagAA));
  ASSERT_EQ(r.counts[2], 1);
  EXPECT_EQ(r.records[0].owner, wireName("example.com"));
}

TEST_F(DnsHandlerAnswerTest, WildcardsAnswerWithTheQuestionsName) {
  const Reply r = ask(query("x.Wild.example.com", kA));
  EXPECT_EQ(r.rcode(), kNoError);
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].owner, wireName("x.Wild.example.com"));
}

TEST_F(DnsHandlerAnswerTest, RefusedOutsideTheZonesAndForOtherClasses) {
  Reply r = ask(query("www.example.org", kA));
  EXPECT_EQ(r.rcode(), kRefused);
  EXPECT_FALSE(r.flag(kFlagAA));
  EXPECT_EQ(r.counts[0], 1);
  r = ask(query("www.example.com", kA, 0, 0x0100, 3));  // CHAOS
  EXPECT_EQ(r.rcode(), kRefused);
  r = ask(query("example.com", kAXFR));
  EXPECT_EQ(r.rcode(), kRefused);
}

TEST_F(DnsHandlerAnswerTest, NotImpFormErrAndBadVers) {
  Reply r = ask(query("www.example.com", kA, 1232, 0x2000));
  EXPECT_EQ(r.rcode(), kNotImp);
  EXPECT_EQ((r.flags >> 11) & 0xF, 4);
  EXPECT_EQ(r.counts[3], 1);  // OPT, since the query had one
  std::string bad = query("www.example.com", kA);
  bad[7] = 1;
  r = ask(bad);
  EXPECT_EQ(r.rcode(), kFormErr);
  EXPECT_EQ(r.id, 0x1234);
  std::string v1 = query("www.example.com", kA, 1232);
  v1[v1.size() - 5] = 1;  // EDNS version 1
  r = ask(v1);
  EXPECT_EQ(r.rcode(), 0);
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].type, kOPT);
  EXPECT_EQ(r.records[0].ttl >> 24, 1u);  // extended RCODE 16 = BADVERS
}

TEST_F(DnsHandlerAnswerTest, TruncatesToWhatTheClientTakes) {
  // Without EDNS: 512 bytes at most, so header and question with TC=1.
  Reply r = ask(query("big.example.com", kTXT), udpLimit(Query{}, settings_));
  EXPECT_TRUE(r.flag(kFlagTC));
  EXPECT_EQ(r.counts[0], 1);
  EXPECT_EQ(r.counts[1], 0);
  EXPECT_EQ(r.counts[3], 0);
  // With EDNS asking for 4096: no more than max_udp_payload (1232), too small here.
  Query q;
  const std::string e = query("big.example.com", kTXT, 4096);
  parseQuery(reinterpret_cast<const uint8_t*>(e.data()), e.size(), &q);
  EXPECT_EQ(udpLimit(q, settings_), 1232u);
  r = ask(e, udpLimit(q, settings_));
  EXPECT_TRUE(r.flag(kFlagTC));
  // With room: all of it, with OPT, which advertises our own size.
  settings_.max_udp_payload = 4096;
  r = ask(e, udpLimit(q, settings_));
  EXPECT_FALSE(r.flag(kFlagTC));
  EXPECT_EQ(r.counts[1], 12);
  EXPECT_GT(r.size, 1232u);
  ASSERT_EQ(r.records.back().type, kOPT);
  settings_.max_udp_payload = 1232;
  // EDNS asking for less: truncated, with OPT.
  const std::string small = query("big.example.com", kTXT, 700);
  parseQuery(reinterpret_cast<const uint8_t*>(small.data()), small.size(), &q);
  EXPECT_EQ(udpLimit(q, settings_), 700u);
  r = ask(small, 700);
  EXPECT_TRUE(r.flag(kFlagTC));
  EXPECT_EQ(r.counts[3], 1);
  EXPECT_EQ(r.size, small.size());  // header, question, OPT: the query's own size
}

TEST_F(DnsHandlerAnswerTest, OverridesForFaultsAndSlip) {
  Reply r = ask(query("www.example.com", kA, 1232), kMaxMessage, Override::kServFail);
  EXPECT_EQ(r.rcode(), kServFail);
  EXPECT_EQ(r.counts[1], 0);
  EXPECT_EQ(r.counts[3], 1);
  r = ask(query("www.example.com", kA), kMaxMessage, Override::kTruncate);
  EXPECT_TRUE(r.flag(kFlagTC));
  EXPECT_EQ(r.counts[1], 0);
}

TEST_F(DnsHandlerAnswerTest, AnyGetsOneRrset) {
  const Reply r = ask(query("www.example.com", kANY));
  EXPECT_EQ(r.rcode(), kNoError);
  EXPECT_EQ(r.counts[1], 2);
}

}  // namespace
}  // namespace portd::handlers::dns
