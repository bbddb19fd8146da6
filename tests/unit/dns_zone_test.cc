// The dns handler's master-file parser and zone model: what it reads, and the line it names
// for what it refuses.

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "dns_test_util.h"
#include "handlers/dns/master_file.h"
#include "handlers/dns/wire.h"
#include "handlers/dns/zone.h"

namespace portd::handlers::dns {
namespace {

using test::wireName;

std::vector<Record> parse(std::string_view text, size_t max = 1000) {
  std::vector<Record> out;
  parseMasterFile(text, "z.zone", max, &out);
  return out;
}

// The error message of parsing `text`, or "" if it parsed.
std::string errorOf(std::string_view text, size_t max = 1000) {
  try {
    ZoneSet::build(parse(text, max));
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

const char* kZone = R"($ORIGIN Example.COM.
$TTL 1h
@   IN  SOA ns1 hostmaster (
            42      ; serial
            2h 1h 2w 300 )
        NS  ns1
ns1     A   192.0.2.53
www 60  IN  A 192.0.2.1
www IN 120 AAAA 2001:db8::1
@       MX  10 mail.example.com.
alias   CNAME www
txt     TXT "a b" plain "q\"\065\\"
_s._tcp SRV 1 2 3 www
x.y.z   PTR www
)";

TEST(DnsHandlerZoneTest, ReadsTheMasterFileForm) {
  const std::vector<Record> r = parse(kZone);
  ASSERT_EQ(r.size(), 10u);
  EXPECT_EQ(r[0].owner, wireName("example.com"));
  EXPECT_EQ(r[0].type, kSOA);
  EXPECT_EQ(r[0].ttl, 3600u);
  EXPECT_EQ(r[0].where, "z.zone:3");
  // mname, rname, then serial 42 and the timers with units.
  const std::string soa = wireName("ns1.example.com") + wireName("hostmaster.example.com");
  ASSERT_EQ(r[0].rdata.size(), soa.size() + 20);
  EXPECT_EQ(r[0].rdata.substr(0, soa.size()), soa);
  EXPECT_EQ(get32(reinterpret_cast<const uint8_t*>(r[0].rdata.data()) + soa.size()), 42u);
  EXPECT_EQ(get32(reinterpret_cast<const uint8_t*>(r[0].rdata.data()) + soa.size() + 12), 1209600u);
  EXPECT_EQ(r[1].owner, wireName("example.com"));  // owner left out: the previous one
  EXPECT_EQ(r[1].type, kNS);
  EXPECT_EQ(r[3].ttl, 60u);
  EXPECT_EQ(r[3].rdata, std::string("\xC0\x00\x02\x01", 4));
  EXPECT_EQ(r[4].ttl, 120u);  // class before TTL
  EXPECT_EQ(r[4].type, kAAAA);
  EXPECT_EQ(r[5].rdata, std::string("\0\x0A", 2) + wireName("mail.example.com"));
  EXPECT_EQ(r[6].rdata, wireName("www.example.com"));
  EXPECT_EQ(r[7].rdata, std::string("\x03"
                                    "a b"
                                    "\x05"
                                    "plain"
                                    "\x04"
                                    "q\"A\\"));
  EXPECT_EQ(r[8].rdata, std::string("\0\x01\0\x02\0\x03", 6) + wireName("www.example.com"));
  EXPECT_EQ(r[9].owner, wireName("x.y.z.example.com"));
  EXPECT_EQ(r[9].where, "z.zone:14");
}

TEST(DnsHandlerZoneTest, BuildsZonesWithEmptyNonTerminals) {
  const ZoneSet set = ZoneSet::build(parse(kZone));
  ASSERT_EQ(set.zones().size(), 1u);
  const Zone* z = set.findZone(wireName("deep.www.example.com"));
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(set.findZone(wireName("example.org")), nullptr);
  EXPECT_EQ(set.findZone(wireName("xexample.com")), nullptr);
  ASSERT_NE(z->find(wireName("y.z.example.com")), nullptr);
  EXPECT_TRUE(z->find(wireName("y.z.example.com"))->rrsets.empty());
  EXPECT_EQ(z->find(wireName("nope.example.com")), nullptr);
  EXPECT_EQ(z->negativeTtl(), 300u);
}

TEST(DnsHandlerZoneTest, SeveralZonesEachFromItsSoa) {
  const ZoneSet set = ZoneSet::build(parse(
      "$TTL 60\na.test. SOA ns.a.test. h.a.test. 1 1 1 1 1\n$ORIGIN sub.a.test.\n"
      "@ SOA ns h 1 1 1 1 1\n"
      "www A 192.0.2.1\nwww.a.test. A 192.0.2.2\nb.test. SOA ns.b.test. a.b.test. 1 1 1 1 1\n"));
  ASSERT_EQ(set.zones().size(), 3u);
  EXPECT_EQ(set.findZone(wireName("www.sub.a.test"))->apex(), wireName("sub.a.test"));
  EXPECT_EQ(set.findZone(wireName("www.a.test"))->apex(), wireName("a.test"));
  EXPECT_EQ(set.findZone(wireName("b.test"))->apex(), wireName("b.test"));
}

TEST(DnsHandlerZoneTest, ErrorsNameTheFileAndLine) {
  const std::string head = "$ORIGIN e.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n";
  EXPECT_EQ(errorOf(head + "www A 300.1.1.1\n"), "z.zone:4: bad IPv4 address \"300.1.1.1\"");
  EXPECT_EQ(errorOf(head + "\nwww AAAA 1.2.3.4\n"), "z.zone:5: bad IPv6 address \"1.2.3.4\"");
  EXPECT_EQ(errorOf(head + "www HINFO a b\n").rfind("z.zone:4: unknown or unsupported", 0), 0u);
  EXPECT_EQ(errorOf(head + "www MX mail\n"), "z.zone:4: expected MX PREFERENCE NAME");
  EXPECT_EQ(errorOf(head + "www CH A 1.2.3.4\n"), "z.zone:4: class CH is not supported (only IN)");
  EXPECT_EQ(errorOf(head + "a..b A 1.2.3.4\n"),
            "z.zone:4: bad owner name \"a..b\": an empty label");
  EXPECT_EQ(errorOf(head + std::string(64, 'x') + " A 1.2.3.4\n").rfind("z.zone:4: bad owner", 0),
            0u);
  EXPECT_EQ(errorOf(head + "t TXT \"" + std::string(256, 'x') + "\"\n"),
            "z.zone:4: a TXT string longer than 255 bytes (split it into several strings)");
  EXPECT_EQ(errorOf(head + "t TXT \"open\n"),
            "z.zone:4: a quoted string is not closed on its line");
  EXPECT_EQ(errorOf(head + "t A (\n1.2.3.4\n"), "z.zone:4: '(' is never closed");
  EXPECT_EQ(errorOf(head + "$INCLUDE other\n"),
            "z.zone:4: $INCLUDE is not supported: name each file in zone_file instead");
  EXPECT_EQ(errorOf("www.e.test. A 1.2.3.4\n"),
            "z.zone:1: no TTL: give one, or a $TTL line before the record");
  EXPECT_EQ(errorOf("www 60 A 1.2.3.4\n"),
            "z.zone:1: bad owner name \"www\": a relative name with no $ORIGIN");
  EXPECT_EQ(errorOf(head + "www.other.test. A 1.2.3.4\n"),
            "z.zone:4: the name is in no zone (no SOA record at or above it)");
  EXPECT_EQ(errorOf(head + "www A 1.2.3.4\nwww CNAME x\n"),
            "z.zone:5: a CNAME record beside other data for the same name");
  EXPECT_EQ(errorOf(head + "sub NS ns.sub\n"),
            "z.zone:4: NS records below a zone's apex (delegations) are not supported");
  EXPECT_EQ(errorOf(head + "@ SOA ns h 1 2 3 4 5\n"),
            "z.zone:4: a second SOA record for the same zone");
  EXPECT_EQ(errorOf("; nothing\n"), "no SOA record: every zone needs one at its apex");
  EXPECT_EQ(errorOf(head + "a A 1.2.3.4\nb A 1.2.3.4\n", 2),
            "z.zone:5: more than max_zone_records (2) records");
}

TEST(DnsHandlerZoneTest, NamesFromText) {
  std::string out;
  std::string error;
  ASSERT_TRUE(nameFromText("a\\.b.c.", "", &out, &error));
  EXPECT_EQ(out, std::string("\x03"
                             "a.b"
                             "\x01"
                             "c",
                             6) +
                     std::string(1, '\0'));
  ASSERT_TRUE(nameFromText("\\065", wireName("x"), &out, &error));
  EXPECT_EQ(out, std::string("\x01"
                             "A",
                             2) +
                     wireName("x"));
  ASSERT_TRUE(nameFromText(".", "", &out, &error));
  EXPECT_EQ(out, std::string(1, '\0'));
  EXPECT_FALSE(nameFromText("\\999", wireName("x"), &out, &error));
  EXPECT_FALSE(nameFromText("", wireName("x"), &out, &error));
}

}  // namespace
}  // namespace portd::handlers::dns
