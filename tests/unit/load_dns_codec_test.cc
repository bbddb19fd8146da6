// portd load's dns:// codec: queries byte for byte as dig sends them, answers as Knot DNS sends
// them, and answers that are not to be believed (hostile or broken) refused.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "load/dns_codec.h"
#include "load/report_text.h"
#include "load/result_json.h"
#include "load/results.h"

extern char** environ;

namespace portd::load {
namespace {

std::string fromHex(std::string_view hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

std::string toHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

DnsQuestion question(std::string_view line) {
  DnsQuestion q;
  std::string error;
  EXPECT_TRUE(parseDnsQuestion(line, &q, &error)) << line << ": " << error;
  return q;
}

std::string refusal(std::string_view line) {
  DnsQuestion q;
  std::string error;
  if (parseDnsQuestion(line, &q, &error)) {
    return "accepted";
  }
  EXPECT_FALSE(error.empty());
  return error;
}

// Writes request `seq` and returns it.
std::string send(DnsDatagramCodec& codec, uint64_t seq) {
  char buf[512];  // a query is at most 282 bytes
  const size_t n = codec.request(buf, sizeof buf, seq, 0, 0);
  return std::string(buf, n);
}

struct Answer {
  uint64_t seq;
  int status;
};

std::optional<Answer> read(DnsDatagramCodec& codec, std::string_view datagram) {
  Answer a{~uint64_t{0}, -1};
  if (!codec.answer(datagram, &a.seq, &a.status)) {
    return std::nullopt;
  }
  return a;
}

// A DNS message put together field by field.
class Msg {
 public:
  Msg& u8(unsigned v) {
    b_.push_back(static_cast<char>(v));
    return *this;
  }
  Msg& u16(unsigned v) { return u8(v >> 8).u8(v & 0xff); }
  Msg& u32(uint32_t v) { return u16(v >> 16).u16(v & 0xffff); }
  Msg& header(unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  // "www.example.com" as length-prefixed labels and the root's zero.
  Msg& name(std::string_view dotted) {
    size_t start = 0;
    while (start < dotted.size()) {
      size_t dot = dotted.find('.', start);
      if (dot == std::string_view::npos) {
        dot = dotted.size();
      }
      u8(static_cast<unsigned>(dot - start));
      b_.append(dotted.substr(start, dot - start));
      start = dot + 1;
    }
    return u8(0);
  }
  Msg& pointer(unsigned offset) { return u16(0xc000 | offset); }
  Msg& raw(std::string_view bytes) {
    b_.append(bytes);
    return *this;
  }
  // A record's fixed part and `rdata`, after its owner name.
  Msg& rr(unsigned type, unsigned cls, uint32_t ttl, std::string_view rdata) {
    u16(type).u16(cls).u32(ttl).u16(static_cast<unsigned>(rdata.size()));
    return raw(rdata);
  }
  size_t size() const { return b_.size(); }
  const std::string& str() const { return b_; }

 private:
  std::string b_;
};

constexpr unsigned kAnswerFlags = 0x8500;  // QR, AA, RD; RCODE 0
constexpr std::string_view kAddress = "\xc0\x00\x02\x01";

// A codec with one query, "www.example.test A", request `id` sent.
struct OneQuery {
  explicit OneQuery(unsigned id = 0x1234, std::string_view line = "www.example.test A")
      : codec({question(line)}, false) {
    send(codec, id);
  }
  DnsDatagramCodec codec;
};

// The start of an answer to OneQuery: header and question (at offset 12).
Msg answerStart(unsigned an, unsigned ns = 0, unsigned ar = 0, unsigned flags = kAnswerFlags) {
  Msg m;
  m.header(0x1234, flags, 1, an, ns, ar).name("www.example.test").u16(1).u16(1);
  return m;
}

// ---- queries

TEST(DnsQueryTest, EncodesAQueryAsDigDoesWithoutEdns) {
  // RFC 1035 4.1: ID, flags (RD), QDCOUNT 1, three zero counts; QNAME, QTYPE MX (15), QCLASS IN.
  // What `dig +noedns +noadflag www.example.com MX` sent, ID aside.
  EXPECT_EQ(toHex(encodeDnsQuery(question("www.example.com MX"), false)),
            "0000"
            "0100"
            "0001"
            "0000"
            "0000"
            "0000"
            "03777777076578616d706c6503636f6d00"
            "000f"
            "0001");
}

TEST(DnsQueryTest, EncodesAQueryWithEdnsAsDigDoesWithPayload1232) {
  // ARCOUNT 1 and RFC 6891's OPT record: root name, type 41, class 1232 (the payload), TTL 0
  // (extended RCODE, version, DO all 0), no options. What `dig +nocookie +noadflag
  // +bufsize=1232 www.example.com MX` sent, ID aside.
  EXPECT_EQ(toHex(encodeDnsQuery(question("www.example.com MX"), true)),
            "000001000001000000000001"
            "03777777076578616d706c6503636f6d00000f0001"
            "00002904d0000000000000");
}

TEST(DnsQueryTest, ParsesNamesInTheMasterFileForm) {
  EXPECT_EQ(toHex(question("www.example.com. A").qname), "03777777076578616d706c6503636f6d00");
  EXPECT_EQ(toHex(question(". NS").qname), "00");
  EXPECT_EQ(toHex(question("a\\.b.c A").qname),
            "03612e620163"
            "00");
  EXPECT_EQ(toHex(question("\\065\\032b A").qname),
            "03412062"
            "00");
  EXPECT_EQ(toHex(question("_sip._tcp.example.com SRV").qname),
            "045f736970045f746370076578616d706c6503636f6d00");
  const std::string label63(63, 'x');
  EXPECT_EQ(question(label63 + ".com A").qname.size(), 1 + 63 + 1 + 3 + 1);
  // Four labels of 61: 4 x 62 + 1 = 249 bytes.
  const std::string label61(61, 'y');
  EXPECT_EQ(question(label61 + "." + label61 + "." + label61 + "." + label61 + " A").qname.size(),
            249u);
  // Spaces and tabs around and between the fields.
  EXPECT_EQ(question("  www.example.com \t A  ").qtype, 1);
}

TEST(DnsQueryTest, ParsesTypesByNameInAnyCaseAndAsTypeNnn) {
  const std::pair<std::string_view, uint16_t> types[] = {{"A", 1},
                                                         {"NS", 2},
                                                         {"CNAME", 5},
                                                         {"SOA", 6},
                                                         {"PTR", 12},
                                                         {"MX", 15},
                                                         {"TXT", 16},
                                                         {"AAAA", 28},
                                                         {"SRV", 33},
                                                         {"ANY", 255},
                                                         {"aaaa", 28},
                                                         {"Mx", 15},
                                                         {"CAA", 257},
                                                         {"HTTPS", 65},
                                                         {"TYPE65", 65},
                                                         {"type0", 0},
                                                         {"TYPE65535", 65535},
                                                         {"TYPE00001", 1}};
  for (const auto& [name, value] : types) {
    EXPECT_EQ(question("example.com " + std::string(name)).qtype, value) << name;
  }
}

TEST(DnsQueryTest, RefusesBadLinesSayingWhy) {
  EXPECT_NE(refusal("").find("NAME TYPE"), std::string::npos);
  EXPECT_NE(refusal("www.example.com").find("NAME TYPE"), std::string::npos);
  EXPECT_NE(refusal("www.example.com A IN").find("nothing more"), std::string::npos);
  EXPECT_NE(refusal("www..example.com A").find("empty label"), std::string::npos);
  EXPECT_NE(refusal(".example.com A").find("empty label"), std::string::npos);
  EXPECT_NE(refusal("example.com.. A").find("empty label"), std::string::npos);
  EXPECT_NE(refusal(std::string(64, 'x') + ".com A").find("63"), std::string::npos);
  // Four labels of 63: 4 x 64 + 1 = 257 bytes.
  const std::string label63(63, 'y');
  EXPECT_NE(refusal(label63 + "." + label63 + "." + label63 + "." + label63 + " A").find("255"),
            std::string::npos);
  EXPECT_NE(refusal("example.com\\ A").find("backslash"), std::string::npos);
  EXPECT_NE(refusal("a\\25 A").find("three"), std::string::npos);
  EXPECT_NE(refusal("a\\256 A").find("255"), std::string::npos);
  for (const char* bad :
       {"BOGUS", "TYPE", "TYPE65536", "TYPEx1", "TYPE-1", "TYPE+1", "A6x", "TYPE123456"}) {
    EXPECT_NE(refusal(std::string("example.com ") + bad).find("type \"" + std::string(bad)),
              std::string::npos)
        << bad;
  }
}

TEST(DnsQueryTest, RequestKIsQueryKModNWithTheLow16BitsOfKAsItsId) {
  DnsDatagramCodec codec({question("a.test A"), question("b.test AAAA"), question("c.test MX")},
                         false);
  EXPECT_EQ(codec.seqBits(), 16u);
  const std::string queries[] = {encodeDnsQuery(question("a.test A"), false),
                                 encodeDnsQuery(question("b.test AAAA"), false),
                                 encodeDnsQuery(question("c.test MX"), false)};
  for (uint64_t seq : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{0x1234},
                       uint64_t{65536 + 7}, uint64_t{(uint64_t{1} << 40) + 5}}) {
    const std::string m = send(codec, seq);
    std::string expected = queries[seq % 3];
    expected[0] = static_cast<char>((seq >> 8) & 0xff);
    expected[1] = static_cast<char>(seq & 0xff);
    EXPECT_EQ(toHex(m), toHex(expected)) << seq;
  }
  char small[8];
  EXPECT_EQ(codec.request(small, sizeof small, 0, 0, 0), 0u);  // no room: nothing written
}

TEST(DnsQueryTest, MakesNoCodecWithoutQueriesOrWithABadOne) {
  EXPECT_EQ(makeDnsCodec({}, false), nullptr);
  EXPECT_EQ(makeDnsCodec({"www.example.com A", "bad"}, false), nullptr);
  EXPECT_NE(makeDnsCodec({"www.example.com A"}, true), nullptr);
}

// dig's own query, captured on a socket of ours, against ours: the same bytes but for the ID.
// Skipped where dig is not installed (.ci/setup installs bind9-dnsutils).
std::string digQuery(const std::vector<std::string>& options, std::string_view name,
                     std::string_view type) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "no UDP socket on 127.0.0.1";
    return "";
  }
  std::vector<std::string> args = {
      "dig", "@127.0.0.1", "-p", std::to_string(ntohs(addr.sin_port)), "+tries=1", "+timeout=5"};
  args.insert(args.end(), options.begin(), options.end());
  args.emplace_back(name);
  args.emplace_back(type);
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/usr/bin/dig", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  std::string got;
  if (rc == 0) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10'000) == 1) {
      char buf[1024];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      got.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
    }
    // dig would wait for an answer that never comes: it is stopped by its pid.
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  } else {
    ADD_FAILURE() << "cannot start dig";
  }
  ::close(fd);
  return got;
}

TEST(DnsQueryTest, SendsWhatDigSendsForTheSameQuestion) {
  if (::access("/usr/bin/dig", X_OK) != 0) {
    GTEST_SKIP() << "dig is not installed (bind9-dnsutils)";
  }
  struct Case {
    std::vector<std::string> dig_options;
    bool edns;
    const char* name;
    const char* type;
  };
  const Case cases[] = {
      {{"+noedns", "+noadflag"}, false, "www.example.com", "MX"},
      {{"+noedns", "+noadflag"}, false, "Mixed.Case.Example", "AAAA"},
      {{"+nocookie", "+noadflag", "+bufsize=1232"}, true, "example.org", "TXT"},
  };
  for (const Case& c : cases) {
    const std::string dig = digQuery(c.dig_options, c.name, c.type);
    const std::string ours = encodeDnsQuery(question(std::string(c.name) + " " + c.type), c.edns);
    ASSERT_GE(dig.size(), kDnsHeader) << c.name;
    // The question section alone, then everything but the ID.
    EXPECT_EQ(toHex(dig.substr(kDnsHeader, ours.size() - kDnsHeader - (c.edns ? 11 : 0))),
              toHex(ours.substr(kDnsHeader, ours.size() - kDnsHeader - (c.edns ? 11 : 0))))
        << c.name;
    EXPECT_EQ(toHex(dig.substr(2)), toHex(ours.substr(2))) << c.name;
  }
}

// ---- answers captured from Knot DNS 3.2.6 (serving example.test: SOA, NS, www A, AAAA, MX, TXT;
// "big" a TXT of 600 bytes), each to the query with that ID.

struct Captured {
  const char* query;
  bool edns;
  unsigned id;
  const char* hex;
  int status;
};

const Captured kCaptured[] = {
    // www A: one answer, its owner a pointer to the question's name.
    {"www.example.test A", false, 0x1234,
     "12348500000100010000000003777777076578616d706c6504746573740000010001c00c000100010000012c0004"
     "c0000201",
     0},
    // NXDOMAIN: the zone's SOA in the authority section, pointers into the question's name and
    // into the SOA's own data.
    {"nope.example.test A", false, 0x0102,
     "010285030001000000010000046e6f7065076578616d706c6504746573740000010001c011000600010000012c00"
     "26026e73c0110a686f73746d6173746572c0110000000100000e100000038400093a800000012c",
     3},
    // MX: the exchange's address in the additional section.
    {"www.example.test MX", false, 0xbeef,
     "beef8500000100010000000103777777076578616d706c65047465737400000f0001c00c000f00010000012c0009"
     "000a046d61696cc010c030000100010000012c0004c0000219",
     0},
    // A zone it does not serve: REFUSED.
    {"www.example.org A", false, 7,
     "00078105000100000000000003777777076578616d706c65036f72670000010001", 5},
    // 600 bytes of TXT in 512 without EDNS: TC=1 and no records.
    {"big.example.test TXT", false, 9,
     "00098700000100000000000003626967076578616d706c6504746573740000100001", kDnsTruncated | 0},
    // NXDOMAIN with EDNS: the OPT record last.
    {"nope.example.test A", true, 0x0a0b,
     "0a0b85030001000000010001046e6f7065076578616d706c6504746573740000010001c011000600010000012c00"
     "26026e73c0110a686f73746d6173746572c0110000000100000e100000038400093a800000012c00002904d00000"
     "00000000",
     3},
    // The question as it was sent, "WwW.Example.TEST": Knot echoes the case.
    {"www.example.test AAAA", true, 0x55,
     "00558500000100010000000103577757074578616d706c65045445535400001c0001c00c001c00010000012c0010"
     "20010db800000000000000000000000100002904d0000000000000",
     0},
};

TEST(DnsAnswerTest, ReadsAnswersCapturedFromKnot) {
  for (const Captured& c : kCaptured) {
    DnsDatagramCodec codec({question(c.query)}, c.edns);
    send(codec, c.id);
    const auto a = read(codec, fromHex(c.hex));
    ASSERT_TRUE(a.has_value()) << c.query;
    EXPECT_EQ(a->seq, c.id) << c.query;
    EXPECT_EQ(a->status, c.status) << c.query;
  }
}

TEST(DnsAnswerTest, RefusesEachCapturedAnswerCutShortAtAnyByte) {
  for (const Captured& c : kCaptured) {
    DnsDatagramCodec codec({question(c.query)}, c.edns);
    send(codec, c.id);
    const std::string whole = fromHex(c.hex);
    // The truncated one too: it ends with its question, which must be whole.
    for (size_t n = 0; n < whole.size(); ++n) {
      EXPECT_FALSE(read(codec, whole.substr(0, n)).has_value()) << c.query << " cut at " << n;
    }
    // A byte more than the records: refused, but where TC=1 says anything may follow.
    const auto longer = read(codec, whole + std::string(1, '\0'));
    EXPECT_EQ(longer.has_value(), (c.status & kDnsTruncated) != 0) << c.query;
  }
}

TEST(DnsAnswerTest, MatchesTheQueryOfTheLatestSequenceNumberWithThatId) {
  DnsDatagramCodec codec({question("a.test A"), question("b.test A"), question("c.test A")}, false);
  for (uint64_t seq = 0; seq < 65536 + 10; ++seq) {
    send(codec, seq);
  }
  // ID 4: sequence number 65540 (not 4), query 65540 mod 3 = 2.
  auto answerTo = [](const char* name) {
    Msg m;
    m.header(4, kAnswerFlags | 3, 1, 0, 0, 0).name(name).u16(1).u16(1);
    return m.str();
  };
  const auto a = read(codec, answerTo("c.test"));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->seq, 4u);  // the low bits; the worker's tracker finds 65540 from them
  EXPECT_EQ(a->status, 3);
  EXPECT_FALSE(read(codec, answerTo("b.test")).has_value());  // sequence number 4's query
}

TEST(DnsAnswerTest, RefusesIdsNotYetSent) {
  DnsDatagramCodec codec({question("www.example.test A")}, false);
  EXPECT_FALSE(read(codec, answerStart(0).str()).has_value());  // nothing sent at all
  send(codec, 0x1000);
  EXPECT_FALSE(read(codec, answerStart(0).str()).has_value());  // 0x1234 is later than 0x1000
  send(codec, 0x1234);
  EXPECT_TRUE(read(codec, answerStart(0).str()).has_value());
}

TEST(DnsAnswerTest, RefusesWhatIsNotAnAnswerToTheQuestionAsked) {
  OneQuery q;
  auto refused = [&](const Msg& m) { return !read(q.codec, m.str()).has_value(); };
  EXPECT_FALSE(refused(answerStart(0)));
  EXPECT_TRUE(refused(answerStart(0, 0, 0, 0x0100)));  // QR=0: the query itself, echoed
  EXPECT_TRUE(refused(answerStart(0, 0, 0, kAnswerFlags | 0x2800)));  // opcode 5 (UPDATE)
  Msg other_name;
  other_name.header(0x1234, kAnswerFlags, 1, 0, 0, 0).name("www.example.tesT.x").u16(1).u16(1);
  EXPECT_TRUE(refused(other_name));
  Msg shorter;
  shorter.header(0x1234, kAnswerFlags, 1, 0, 0, 0).name("www.example").u16(1).u16(1);
  EXPECT_TRUE(refused(shorter));
  Msg other_type;
  other_type.header(0x1234, kAnswerFlags, 1, 0, 0, 0).name("www.example.test").u16(28).u16(1);
  EXPECT_TRUE(refused(other_type));
  Msg other_class;
  other_class.header(0x1234, kAnswerFlags, 1, 0, 0, 0).name("www.example.test").u16(1).u16(3);
  EXPECT_TRUE(refused(other_class));
  Msg no_question;
  no_question.header(0x1234, kAnswerFlags | 1, 0, 0, 0, 0);  // FORMERR without the question
  EXPECT_TRUE(refused(no_question));
  Msg two_questions;
  two_questions.header(0x1234, kAnswerFlags, 2, 0, 0, 0)
      .name("www.example.test")
      .u16(1)
      .u16(1)
      .name("www.example.test")
      .u16(1)
      .u16(1);
  EXPECT_TRUE(refused(two_questions));
  Msg other_id = answerStart(0);
  std::string bytes = other_id.str();
  bytes[1] = 0x35;
  EXPECT_FALSE(read(q.codec, bytes).has_value());
  // The question's name compared in any case.
  Msg upper;
  upper.header(0x1234, kAnswerFlags, 1, 0, 0, 0).name("WWW.EXAMPLE.TEST").u16(1).u16(1);
  EXPECT_FALSE(refused(upper));
}

TEST(DnsAnswerTest, FollowsPointersBackwardsOnly) {
  OneQuery q;
  auto status = [&](const Msg& m) {
    const auto a = read(q.codec, m.str());
    return a ? a->status : -1;
  };
  // Backwards to the question (12), and a pointer to a name that is itself a pointer further
  // back: both fine.
  Msg chain = answerStart(2);
  const size_t first = chain.size();
  chain.u8(3).raw("abc").pointer(12).rr(1, 1, 60, kAddress);
  chain.pointer(static_cast<unsigned>(first)).rr(1, 1, 60, kAddress);
  EXPECT_EQ(status(chain), 0);

  // A pointer to itself.
  Msg self = answerStart(1);
  self.pointer(static_cast<unsigned>(self.size())).rr(1, 1, 60, kAddress);
  EXPECT_EQ(status(self), -1);
  // Forwards, to a name that is there.
  Msg forward = answerStart(2);
  const size_t at = forward.size();
  forward.pointer(static_cast<unsigned>(at + 2 + 14)).rr(1, 1, 60, kAddress);
  forward.name("x").rr(1, 1, 60, kAddress);
  EXPECT_EQ(status(forward), -1);
  // Past the end.
  Msg beyond = answerStart(1);
  beyond.pointer(0x3fff).rr(1, 1, 60, kAddress);
  EXPECT_EQ(status(beyond), -1);
  // Into the header.
  Msg header = answerStart(1);
  header.pointer(4).rr(1, 1, 60, kAddress);
  EXPECT_EQ(status(header), -1);
  // A loop through labels: a name whose labels run into a pointer back to their own start.
  // Each pointer goes backwards, but the second one is not before where the first one led.
  Msg loop = answerStart(1);
  const size_t start = loop.size();
  loop.u8(1).raw("a").pointer(static_cast<unsigned>(start));
  loop.rr(1, 1, 60, kAddress);
  EXPECT_EQ(status(loop), -1);
  // The same through two names, each pointer going backwards from where it is: the first
  // record's data is the label "b" (at `b`), just before the second record's name "a" and a
  // pointer to `b`, whose labels run on into "a" and that pointer again.
  Msg loop2 = answerStart(2);
  loop2.pointer(12).rr(16, 1, 60,
                       std::string_view("\x01"
                                        "b",
                                        2));
  const size_t b = loop2.size() - 2;
  loop2.u8(1).raw("a").pointer(static_cast<unsigned>(b)).rr(1, 1, 60, kAddress);
  EXPECT_EQ(status(loop2), -1);
  // Without the loop (the pointer to the question instead): fine.
  Msg no_loop = answerStart(2);
  no_loop.pointer(12).rr(16, 1, 60,
                         std::string_view("\x01"
                                          "b",
                                          2));
  no_loop.u8(1).raw("a").pointer(12).rr(1, 1, 60, kAddress);
  EXPECT_EQ(status(no_loop), 0);
  // A half pointer at the very end.
  Msg half = answerStart(0);
  half.u8(0xc0);
  EXPECT_EQ(status(half), -1);
}

TEST(DnsAnswerTest, RefusesBadLabelsAndNamesOver255Bytes) {
  OneQuery q;
  auto refused = [&](const Msg& m) { return !read(q.codec, m.str()).has_value(); };
  for (unsigned type : {0x40u, 0x80u}) {  // 01 and 10 label types
    Msg m = answerStart(1);
    m.u8(type | 1).raw("a").u8(0).rr(1, 1, 60, kAddress);
    EXPECT_TRUE(refused(m)) << type;
  }
  const std::string label(63, 'a');
  Msg four = answerStart(1);  // 4 x 64 + 1 = 257 bytes
  four.name(label + "." + label + "." + label + "." + label).rr(1, 1, 60, kAddress);
  EXPECT_TRUE(refused(four));
  Msg three = answerStart(1);  // 3 x 64 + 1 = 193 bytes
  three.name(label + "." + label + "." + label).rr(1, 1, 60, kAddress);
  EXPECT_FALSE(refused(three));
  // Over 255 only through a pointer: 3 x 64 labels, then the question's 18 bytes.
  Msg via_pointer = answerStart(1);
  via_pointer.u8(63)
      .raw(label)
      .u8(63)
      .raw(label)
      .u8(63)
      .raw(label)
      .u8(61)
      .raw(label.substr(2))
      .pointer(12)
      .rr(1, 1, 60, kAddress);
  EXPECT_TRUE(refused(via_pointer));
  // A label running past the end.
  Msg cut_label = answerStart(0);
  cut_label.u8(5).raw("ab");
  EXPECT_TRUE(refused(cut_label));
}

TEST(DnsAnswerTest, RefusesCountsThatDoNotMatchTheMessage) {
  OneQuery q;
  auto refused = [&](const Msg& m) { return !read(q.codec, m.str()).has_value(); };
  Msg one = answerStart(1);
  one.pointer(12).rr(1, 1, 60, kAddress);
  EXPECT_FALSE(refused(one));
  for (unsigned an : {2u, 3u, 0xffffu}) {
    Msg over = answerStart(an);
    over.pointer(12).rr(1, 1, 60, kAddress);
    EXPECT_TRUE(refused(over)) << an;
  }
  Msg over_ns = answerStart(1, 0xffff, 0xffff);
  over_ns.pointer(12).rr(1, 1, 60, kAddress);
  EXPECT_TRUE(refused(over_ns));
  Msg under = answerStart(0);  // a record the counts do not announce
  under.pointer(12).rr(1, 1, 60, kAddress);
  EXPECT_TRUE(refused(under));
  Msg rdata_past_end = answerStart(1);
  rdata_past_end.pointer(12).u16(1).u16(1).u32(60).u16(5).raw(kAddress);
  EXPECT_TRUE(refused(rdata_past_end));
  Msg fixed_part_cut = answerStart(1);
  fixed_part_cut.pointer(12).u16(1).u16(1).u32(60);
  EXPECT_TRUE(refused(fixed_part_cut));
}

TEST(DnsAnswerTest, CountsTruncatedAnswersWhateverFollowsTheQuestion) {
  OneQuery q;
  auto status = [&](const Msg& m) {
    const auto a = read(q.codec, m.str());
    return a ? a->status : -1;
  };
  const unsigned tc = kAnswerFlags | 0x0200;
  EXPECT_EQ(status(answerStart(0, 0, 0, tc)), kDnsTruncated);
  Msg cut = answerStart(3, 0, 0, tc);  // counts for records it no longer has, one half there
  cut.pointer(12).u16(1).u16(1);
  EXPECT_EQ(status(cut), kDnsTruncated);
  Msg whole = answerStart(1, 0, 0, tc | 2);  // SERVFAIL, truncated, one whole record
  whole.pointer(12).rr(1, 1, 60, kAddress);
  EXPECT_EQ(status(whole), kDnsTruncated | 2);
  // The question must still be there, and be ours.
  Msg question_cut;
  question_cut.header(0x1234, tc, 1, 0, 0, 0).name("www.example.test").u16(1);
  EXPECT_EQ(status(question_cut), -1);
  Msg other;
  other.header(0x1234, tc, 1, 0, 0, 0).name("www.example.tes").u16(1).u16(1);
  EXPECT_EQ(status(other), -1);
}

TEST(DnsAnswerTest, ExtendsTheRcodeFromTheOptRecord) {
  OneQuery q;
  auto status = [&](const Msg& m) {
    const auto a = read(q.codec, m.str());
    return a ? a->status : -1;
  };
  // BADVERS (16): upper bits 1, header RCODE 0.
  Msg badvers = answerStart(0, 0, 1);
  badvers.u8(0).rr(41, 1232, 0x01000000, "");
  EXPECT_EQ(status(badvers), 16);
  // 4095, the largest: 0xff and 0xf.
  Msg top = answerStart(0, 0, 1, kAnswerFlags | 0xf);
  top.u8(0).rr(41, 1232, 0xff000000, "");
  EXPECT_EQ(status(top), 4095);
  // The OPT record after an ordinary additional record is fine.
  Msg after = answerStart(0, 0, 2, kAnswerFlags | 3);
  after.pointer(12).rr(1, 1, 60, kAddress).u8(0).rr(41, 1232, 0, "");
  EXPECT_EQ(status(after), 3);
  // Two OPT records, one in the answer section, or one with a name: not an answer.
  Msg two = answerStart(0, 0, 2);
  two.u8(0).rr(41, 1232, 0, "").u8(0).rr(41, 1232, 0, "");
  EXPECT_EQ(status(two), -1);
  Msg in_answer = answerStart(1);
  in_answer.u8(0).rr(41, 1232, 0, "");
  EXPECT_EQ(status(in_answer), -1);
  Msg named = answerStart(0, 0, 1);
  named.pointer(12).rr(41, 1232, 0, "");
  EXPECT_EQ(status(named), -1);
}

TEST(DnsAnswerTest, SurvivesEveryByteOfACapturedAnswerFlipped) {
  // Not a fuzzer (tests/fuzz/fuzz_dns_answer.cc is), but every build checks that no single
  // changed byte of a real answer reads out of bounds or loops, and that the question is
  // checked: what still reads as an answer has the same length and a status.
  const Captured& c = kCaptured[2];
  DnsDatagramCodec codec({question(c.query)}, c.edns);
  send(codec, c.id);
  const std::string whole = fromHex(c.hex);
  for (size_t i = 0; i < whole.size(); ++i) {
    for (int v : {0x00, 0x3f, 0x40, 0xc0, 0xc1, 0xff}) {
      std::string m = whole;
      m[i] = static_cast<char>(v);
      const auto a = read(codec, m);
      if (a) {
        EXPECT_GE(a->status, 0);
      }
    }
  }
}

// ---- counting

TEST(DnsCountersTest, AddUpAndSurviveTheJsonAndShowInTheSummary) {
  Result r;
  r.url = "dns://127.0.0.1:53";
  r.model = "closed";
  r.seconds = 1;
  r.counters.completed = 9;
  r.counters.rcode[0] = 4;
  r.counters.rcode[3] = 2;
  r.counters.rcode[5] = 1;
  r.counters.rcode[16] = 2;
  r.counters.truncated = 1;
  Result other = r;
  mergeResult(r, other);
  EXPECT_EQ(r.counters.rcode[0], 8u);
  EXPECT_EQ(r.counters.rcode[16], 4u);
  EXPECT_EQ(r.counters.truncated, 2u);

  std::string error;
  const auto back = fromJson(toJson(r), &error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(back->counters.rcode, r.counters.rcode);
  EXPECT_EQ(back->counters.truncated, 2u);
  EXPECT_NE(toJson(r).find("\"NXDOMAIN\": 4"), std::string::npos);

  const std::string summary = formatSummary(r);
  EXPECT_NE(summary.find("dns: NOERROR 8 NXDOMAIN 4 REFUSED 2 other 4; truncated (TC=1) 2"),
            std::string::npos)
      << summary;
  EXPECT_EQ(rcodeName(2), "SERVFAIL");
  EXPECT_EQ(rcodeName(11), "DSOTYPENI");
  EXPECT_EQ(rcodeName(15), "RCODE15");
}

TEST(DnsCountersTest, ResultsWithoutRcodesReadBackAsZero) {
  Result r;
  r.model = "open";
  std::string json = toJson(r);
  const size_t at = json.find("\"rcode\"");
  ASSERT_NE(at, std::string::npos);
  json.replace(at, 7, "\"rcode_\"");  // as a result written before dns:// was
  std::string error;
  const auto back = fromJson(json, &error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(back->counters.rcode, (std::array<uint64_t, kRcodeSlots>{}));
  EXPECT_EQ(formatSummary(*back).find("dns:"), std::string::npos);
}

}  // namespace
}  // namespace portd::load
