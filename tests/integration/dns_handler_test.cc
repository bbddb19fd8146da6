// The dns handler against real clients: dig (bind9-dnsutils), kdig (knot-dnsutils) and dnsperf,
// over UDP and TCP on one address, for every RCODE and record type it serves, and its limits
// and fault knobs. Raw sockets only where no client can say it (malformed queries, pipelining).

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

constexpr const char* kDig = "/usr/bin/dig";
constexpr const char* kKdig = "/usr/bin/kdig";
constexpr const char* kDnsperf = "/usr/bin/dnsperf";

// A TXT record of 12 strings of 101 bytes: more than fits in 512 bytes, or in 1232.
std::string bigTxt() {
  std::string out;
  for (int i = 0; i < 12; ++i) {
    out += "big TXT \"" + std::string(100, 'x') + std::to_string(i) + "\"\n";
  }
  return out;
}

const std::string kZone = R"($ORIGIN example.com.
$TTL 3600
@   IN SOA ns1 hostmaster (
        2024010101 ; serial
        7200 3600 1209600 300 )
@         NS    ns1
ns1       A     192.0.2.53
www       A     192.0.2.1
www       AAAA  2001:db8::1
@         MX    10 mail
mail      A     192.0.2.25
alias     CNAME www
_sip._tcp SRV   10 60 5060 sip
sip       A     192.0.2.5
txt       TXT   "hello world" "second"
; a second zone in the same file
$ORIGIN 2.0.192.in-addr.arpa.
@   300 SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
1   PTR www.example.com.
)" + std::string("$ORIGIN example.com.\n") +
                          bigTxt();

// dig and kdig print records with tabs and padding: one space between fields is easier to
// look for.
std::string squeeze(std::string_view text) {
  std::string out;
  bool blank = false;
  for (char c : text) {
    const bool b = c == ' ' || c == '\t';
    if (b && blank) {
      continue;
    }
    out.push_back(b ? ' ' : c);
    blank = b;
  }
  return out;
}

struct ToolRun {
  ExitStatus status = ExitStatus::running();
  std::string out;  // stdout and stderr, squeezed
  Clock::duration took{};
};

ToolRun runTool(const std::string& path, const std::vector<std::string>& args,
                Clock::duration timeout = 20s) {
  const Clock::time_point start = Clock::now();
  ChildProcess p({path, args, std::nullopt, {}, {}, ""});
  ToolRun r;
  r.status = p.wait(timeout);
  r.took = Clock::now() - start;
  r.out = squeeze(p.stdoutText() + p.stderrText());
  return r;
}

// A query as dig sends it, without EDNS: id, RD, one question of class IN.
std::string rawQuery(uint16_t id, std::string_view name, uint16_t type) {
  std::string q{static_cast<char>(id >> 8), static_cast<char>(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  while (!name.empty()) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    q.push_back(static_cast<char>(label.size()));
    q += label;
    name.remove_prefix(dot == std::string_view::npos ? name.size() : dot + 1);
  }
  q += std::string{0, 0, static_cast<char>(type), 0, 1};
  return q;
}

uint16_t idOf(std::string_view m) {
  return static_cast<uint16_t>(static_cast<uint8_t>(m[0]) << 8 | static_cast<uint8_t>(m[1]));
}
int rcodeOf(std::string_view m) { return static_cast<uint8_t>(m[3]) & 0xF; }
bool truncatedFlag(std::string_view m) { return (static_cast<uint8_t>(m[2]) & 0x02) != 0; }

class DnsHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {kDig, kKdig, kDnsperf}) {
      ASSERT_EQ(::access(tool, X_OK), 0) << tool << " is missing: .ci/setup installs it";
    }
    zone_ = std::make_unique<TempFile>(kZone, ".zone");
  }

  // portd with the dns handler on UDP and TCP of one port, serving kZone with `options` added.
  // The port was free a moment ago: should something take it first, another is tried.
  ::testing::AssertionResult start(const std::string& options = "") {
    std::string log;
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = freeUdpAndTcpPort();
      std::string config = "[server]\nworkers = 1\n";
      for (const char* proto : {"udp", "tcp"}) {
        config += std::string("[[listener]]\nname = \"dns-") + proto + "\"\nprotocol = \"" + proto +
                  "\"\naddress = \"127.0.0.1:" + std::to_string(port_) +
                  "\"\nhandler = \"dns\"\n[listener.options]\nzone_file = \"" + zone_->path() +
                  "\"\n" + options + "\n";
      }
      daemon_ = std::make_unique<Daemon>();
      ::testing::AssertionResult r = daemon_->start(config);
      if (r) {
        return r;
      }
      log = r.message();
    }
    return ::testing::AssertionFailure() << log;
  }

  Endpoint udp() const { return Endpoint::loopback(AF_INET, port_); }

  ToolRun dig(std::vector<std::string> args) {
    args.insert(args.begin(), {"@127.0.0.1", "-p", std::to_string(port_), "+time=3", "+tries=2"});
    return runTool(kDig, args);
  }
  ToolRun kdig(std::vector<std::string> args) {
    args.insert(args.begin(), {"@127.0.0.1", "-p", std::to_string(port_), "+timeout=3"});
    return runTool(kKdig, args);
  }

  std::unique_ptr<TempFile> zone_;
  std::unique_ptr<Daemon> daemon_;
  uint16_t port_ = 0;
};

struct Expected {
  const char* name;
  const char* type;
  const char* record;  // as dig prints it, squeezed
};

const Expected kRecords[] = {
    {"www.example.com", "A", "www.example.com. 3600 IN A 192.0.2.1"},
    {"www.example.com", "AAAA", "www.example.com. 3600 IN AAAA 2001:db8::1"},
    {"alias.example.com", "CNAME", "alias.example.com. 3600 IN CNAME www.example.com."},
    {"example.com", "NS", "example.com. 3600 IN NS ns1.example.com."},
    {"example.com", "SOA",
     "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 "
     "1209600 300"},
    {"example.com", "MX", "example.com. 3600 IN MX 10 mail.example.com."},
    {"txt.example.com", "TXT", "txt.example.com. 3600 IN TXT \"hello world\" \"second\""},
    {"_sip._tcp.example.com", "SRV",
     "_sip._tcp.example.com. 3600 IN SRV 10 60 5060 sip.example.com."},
    {"1.2.0.192.in-addr.arpa", "PTR", "1.2.0.192.in-addr.arpa. 3600 IN PTR www.example.com."},
};

TEST_F(DnsHandlerTest, EveryRecordTypeWithDigAndKdigOverUdpAndTcp) {
  ASSERT_TRUE(start());
  for (const Expected& e : kRecords) {
    for (const char* transport : {"+notcp", "+tcp"}) {
      const ToolRun d = dig({e.name, e.type, transport});
      EXPECT_EQ(d.status, ExitStatus::exited(0)) << d.out;
      EXPECT_NE(d.out.find("status: NOERROR"), std::string::npos) << d.out;
      EXPECT_NE(d.out.find("flags: qr aa rd;"), std::string::npos) << d.out;
      EXPECT_NE(d.out.find(e.record), std::string::npos) << transport << "\n" << d.out;
      EXPECT_NE(d.out.find(std::string("(") + (transport[1] == 't' ? "TCP" : "UDP") + ")"),
                std::string::npos)
          << d.out;
      const ToolRun k = kdig({e.name, e.type, transport});
      EXPECT_EQ(k.status, ExitStatus::exited(0)) << k.out;
      EXPECT_NE(k.out.find("status: NOERROR"), std::string::npos) << k.out;
      EXPECT_NE(k.out.find(e.record), std::string::npos) << transport << "\n" << k.out;
    }
  }
}

TEST_F(DnsHandlerTest, EveryRcodeOverUdpAndTcp) {
  ASSERT_TRUE(start());
  const std::string soa = "example.com. 300 IN SOA ns1.example.com.";
  for (const char* transport : {"+notcp", "+tcp"}) {
    ToolRun r = dig({"nope.example.com", "A", transport});
    EXPECT_NE(r.out.find("status: NXDOMAIN"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("AUTHORITY SECTION:\n" + soa), std::string::npos) << r.out;
    // NODATA: the name exists, the type does not.
    r = dig({"mail.example.com", "TXT", transport});
    EXPECT_NE(r.out.find("status: NOERROR"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ANSWER: 0, AUTHORITY: 1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("AUTHORITY SECTION:\n" + soa), std::string::npos) << r.out;
    r = dig({"www.example.org", "A", transport});
    EXPECT_NE(r.out.find("status: REFUSED"), std::string::npos) << r.out;
    r = dig({"+opcode=2", "www.example.com", "A", transport});
    EXPECT_NE(r.out.find("opcode: STATUS, status: NOTIMP"), std::string::npos) << r.out;
    r = dig({"+edns=1", "+noednsneg", "www.example.com", "A", transport});
    EXPECT_NE(r.out.find("status: BADVERS"), std::string::npos) << r.out;
    r = kdig({"nope.example.com", "A", transport});
    EXPECT_NE(r.out.find("status: NXDOMAIN"), std::string::npos) << r.out;
    r = kdig({"www.example.org", "A", transport});
    EXPECT_NE(r.out.find("status: REFUSED"), std::string::npos) << r.out;
  }
  // The CNAME followed inside the zone.
  const ToolRun c = dig({"alias.example.com", "A"});
  EXPECT_NE(c.out.find("alias.example.com. 3600 IN CNAME www.example.com.\n"
                       "www.example.com. 3600 IN A 192.0.2.1"),
            std::string::npos)
      << c.out;
}

TEST_F(DnsHandlerTest, MalformedQueriesGetFormErrAndRuntsNothing) {
  ASSERT_TRUE(start());
  Fd s = bindUdp(Endpoint::loopback(AF_INET));
  // ANCOUNT 1 with no record behind it.
  std::string bad = rawQuery(0x4242, "www.example.com", 1);
  bad[7] = 1;
  ASSERT_TRUE(sendDatagram(s.get(), udp(), std::string(5, 'x')));  // shorter than a header
  ASSERT_TRUE(sendDatagram(s.get(), udp(), bad));
  std::optional<std::string> r = receiveDatagram(s.get());
  ASSERT_TRUE(r.has_value());
  ASSERT_GE(r->size(), 12u);
  EXPECT_EQ(idOf(*r), 0x4242);  // the runt was not answered: this is the next one's
  EXPECT_EQ(rcodeOf(*r), 1);
  // A self-pointing name.
  std::string loop = rawQuery(0x4343, "", 1);
  loop.replace(12, 1, "\xC0\x0C");
  ASSERT_TRUE(sendDatagram(s.get(), udp(), loop));
  r = receiveDatagram(s.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(idOf(*r), 0x4343);
  EXPECT_EQ(rcodeOf(*r), 1);
}

TEST_F(DnsHandlerTest, QuestionCaseIsPreserved) {
  ASSERT_TRUE(start());
  const ToolRun d = dig({"WwW.ExAmPlE.com", "A"});
  EXPECT_NE(d.out.find(";WwW.ExAmPlE.com. IN A"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("WwW.ExAmPlE.com. 3600 IN A 192.0.2.1"), std::string::npos) << d.out;
  EXPECT_EQ(d.out.find("mismatch"), std::string::npos) << d.out;
}

TEST_F(DnsHandlerTest, TruncatesOverUdpAndDigRetriesOverTcp) {
  ASSERT_TRUE(start());
  // Without EDNS: 512 bytes, so TC=1 and dig asks again over TCP, which has it all.
  ToolRun d = dig({"+noedns", "big.example.com", "TXT"});
  EXPECT_NE(d.out.find(";; Truncated, retrying in TCP mode."), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("ANSWER: 12,"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("(TCP)"), std::string::npos) << d.out;
  // The truncated answer itself: header, question, OPT, and our payload size advertised.
  d = dig({"+ignore", "+bufsize=4096", "big.example.com", "TXT"});
  EXPECT_NE(d.out.find("flags: qr aa tc rd;"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("udp: 1232"), std::string::npos) << d.out;
  d = dig({"+ignore", "+noedns", "big.example.com", "TXT"});
  EXPECT_NE(d.out.find("ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 0"), std::string::npos) << d.out;
  // Answers that fit are not truncated, EDNS or not; without EDNS none has OPT.
  d = dig({"+noedns", "www.example.com", "A"});
  EXPECT_NE(d.out.find("ADDITIONAL: 0"), std::string::npos) << d.out;
  EXPECT_EQ(d.out.find("EDNS"), std::string::npos) << d.out;
}

TEST_F(DnsHandlerTest, EdnsPayloadIsRespected) {
  ASSERT_TRUE(start("max_udp_payload = 4096"));
  // 12 strings of 101 bytes: about 1.3 KB. Room for it at 4096, not at 1232.
  ToolRun k = kdig({"+bufsize=4096", "big.example.com", "TXT", "+ignore"});
  EXPECT_NE(k.out.find("status: NOERROR"), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("ANSWER: 12"), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("UDP size: 4096"), std::string::npos) << k.out;
  k = kdig({"+bufsize=1232", "big.example.com", "TXT", "+ignore"});
  EXPECT_NE(k.out.find("Flags: qr aa tc rd;"), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("ANSWER: 0"), std::string::npos) << k.out;
}

TEST_F(DnsHandlerTest, KdigAsksSeveralQueriesOverOneTcpConnection) {
  ASSERT_TRUE(start());
  const ToolRun k = kdig({"+tcp", "+keepopen", "www.example.com", "A", "mail.example.com", "A",
                          "nope.example.com", "A"});
  EXPECT_EQ(k.status, ExitStatus::exited(0)) << k.out;
  const size_t a = k.out.find("www.example.com. 3600 IN A 192.0.2.1");
  const size_t b = k.out.find("mail.example.com. 3600 IN A 192.0.2.25");
  const size_t c = k.out.find("status: NXDOMAIN");
  EXPECT_NE(a, std::string::npos) << k.out;
  EXPECT_NE(b, std::string::npos) << k.out;
  EXPECT_NE(c, std::string::npos) << k.out;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST_F(DnsHandlerTest, PipelinedTcpQueriesAreAnsweredInOrder) {
  ASSERT_TRUE(start());
  Fd c = connectTcp(Endpoint::loopback(AF_INET, port_));
  ASSERT_TRUE(c.valid());
  auto framed = [](const std::string& m) {
    return std::string{static_cast<char>(m.size() >> 8), static_cast<char>(m.size())} + m;
  };
  // Two whole queries and half a third in one write, the rest of it in another.
  const std::string third = framed(rawQuery(3, "www.example.org", 1));
  ASSERT_TRUE(sendAll(c.get(), framed(rawQuery(1, "www.example.com", 1)) +
                                   framed(rawQuery(2, "nope.example.com", 1)) +
                                   third.substr(0, 9)));
  std::vector<std::pair<uint16_t, int>> got;
  for (int i = 0; i < 3; ++i) {
    if (i == 2) {
      ASSERT_TRUE(sendAll(c.get(), third.substr(9)));
    }
    const std::string len = readExactly(c.get(), 2);
    ASSERT_EQ(len.size(), 2u);
    const std::string m = readExactly(c.get(), idOf(len));
    ASSERT_EQ(m.size(), idOf(len));
    got.emplace_back(idOf(m), rcodeOf(m));
  }
  EXPECT_EQ(got, (std::vector<std::pair<uint16_t, int>>{{1, 0}, {2, 3}, {3, 5}}));
}

TEST_F(DnsHandlerTest, ManyPipelinedQueriesPastTheWriteLimitAreAllAnsweredInOrder) {
  // 3000 queries for a 1.4 KB answer: 4 MB of answers against a 1 MiB write_buffer_limit, sent
  // while nothing is read, so that the handler must stop, keep the rest, and go on later.
  ASSERT_TRUE(start());
  Fd c = connectTcp(Endpoint::loopback(AF_INET, port_));
  ASSERT_TRUE(c.valid());
  constexpr int kQueries = 3000;
  std::string all;
  for (int i = 0; i < kQueries; ++i) {
    const std::string m = rawQuery(static_cast<uint16_t>(i), "big.example.com", 16);
    all += std::string{static_cast<char>(m.size() >> 8), static_cast<char>(m.size())} + m;
  }
  std::thread sender([&] { EXPECT_TRUE(sendAll(c.get(), all, 20s)); });
  int in_order = 0;
  for (int i = 0; i < kQueries; ++i) {
    const std::string len = readExactly(c.get(), 2);
    if (len.size() != 2) {
      break;
    }
    const std::string m = readExactly(c.get(), idOf(len));
    if (m.size() != idOf(len) || idOf(m) != i || rcodeOf(m) != 0 || truncatedFlag(m)) {
      break;
    }
    ++in_order;
  }
  sender.join();
  EXPECT_EQ(in_order, kQueries);
}

TEST_F(DnsHandlerTest, DnsperfGetsEveryAnswerWithTheRightRcodes) {
  ASSERT_TRUE(start());
  TempFile queries(
      "www.example.com A\nnope.example.com A\nwww.example.org A\nexample.com MX\n"
      "big.example.com TXT\n",
      ".txt");
  const ToolRun r = runTool(kDnsperf,
                            {"-s", "127.0.0.1", "-p", std::to_string(port_), "-d", queries.path(),
                             "-n", "400", "-c", "4", "-t", "5"},
                            60s);
  EXPECT_EQ(r.status, ExitStatus::exited(0)) << r.out;
  EXPECT_NE(r.out.find("Queries completed: 2000 (100.00%)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Queries lost: 0 (0.00%)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Response codes: NOERROR 1200 (60.00%), NXDOMAIN 400 (20.00%), REFUSED "
                       "400 (20.00%)"),
            std::string::npos)
      << r.out;
}

TEST_F(DnsHandlerTest, ABadZoneRecordIsAConfigurationErrorWithFileAndLine) {
  TempFile bad("$ORIGIN e.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\nwww A 192.0.2.300\n", ".zone");
  TempFile config(
      "[[listener]]\nname = \"d\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n"
      "handler = \"dns\"\n[listener.options]\nzone_file = \"" +
      bad.path() + "\"\n");
  CommandResult r = runPortd({"check", "-c", config.path()});
  EXPECT_EQ(r.status, ExitStatus::exited(2));
  EXPECT_NE(r.err.find(bad.path() + ":4: bad IPv4 address \"192.0.2.300\""), std::string::npos)
      << r.err;
  // The same text inline: its own line numbers.
  TempFile inline_config(
      "[[listener]]\nname = \"d\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n"
      "handler = \"dns\"\n[listener.options]\nzone = '''\n$ORIGIN e.test.\n$TTL 60\n"
      "@ SOA ns h 1 2 3 4 5\nwww A 192.0.2.300\n'''\n");
  r = runPortd({"check", "-c", inline_config.path()});
  EXPECT_EQ(r.status, ExitStatus::exited(2));
  EXPECT_NE(r.err.find("zone:4: bad IPv4 address"), std::string::npos) << r.err;
  // No zone at all.
  TempFile none(
      "[[listener]]\nname = \"d\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n"
      "handler = \"dns\"\n");
  r = runPortd({"check", "-c", none.path()});
  EXPECT_EQ(r.status, ExitStatus::exited(2));
  EXPECT_NE(r.err.find("zone_file: give a zone file"), std::string::npos) << r.err;
}

TEST_F(DnsHandlerTest, AZoneFileOverMaxZoneSizeIsRefused) {
  TempFile config(
      "[[listener]]\nname = \"d\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n"
      "handler = \"dns\"\n[listener.options]\nzone_file = \"" +
      zone_->path() + "\"\nmax_zone_size = 100\n");
  const CommandResult r = runPortd({"check", "-c", config.path()});
  EXPECT_EQ(r.status, ExitStatus::exited(2));
  EXPECT_NE(r.err.find("larger than max_zone_size (100 bytes)"), std::string::npos) << r.err;
}

TEST_F(DnsHandlerTest, DropKnobMakesDigTimeOut) {
  ASSERT_TRUE(start("drop_probability = \"1\""));
  const ToolRun d = runTool(kDig, {"@127.0.0.1", "-p", std::to_string(port_), "+tries=1", "+time=1",
                                   "www.example.com", "A"});
  EXPECT_EQ(d.status, ExitStatus::exited(9)) << d.out;  // dig: no reply from any server
  EXPECT_EQ(d.out.find("status:"), std::string::npos) << d.out;
}

TEST_F(DnsHandlerTest, ServfailKnob) {
  ASSERT_TRUE(start("servfail_probability = \"100%\""));
  for (const char* transport : {"+notcp", "+tcp"}) {
    const ToolRun d = dig({"www.example.com", "A", transport});
    EXPECT_NE(d.out.find("status: SERVFAIL"), std::string::npos) << d.out;
  }
}

TEST_F(DnsHandlerTest, TruncateKnobSendsDigToTcp) {
  ASSERT_TRUE(start("truncate_probability = \"1.0\""));
  const ToolRun d = dig({"www.example.com", "A"});
  EXPECT_NE(d.out.find(";; Truncated, retrying in TCP mode."), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("www.example.com. 3600 IN A 192.0.2.1"), std::string::npos) << d.out;
}

TEST_F(DnsHandlerTest, DelayKnobHoldsTheUdpAnswer) {
  ASSERT_TRUE(start("delay_probability = \"1\"\ndelay = \"300ms\""));
  Fd s = bindUdp(Endpoint::loopback(AF_INET));
  const Clock::time_point sent = Clock::now();
  ASSERT_TRUE(sendDatagram(s.get(), udp(), rawQuery(9, "www.example.com", 1)));
  const std::optional<std::string> r = receiveDatagram(s.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_GE(Clock::now() - sent, 300ms - kLoopClockSlack);
  EXPECT_EQ(idOf(*r), 9);
  EXPECT_EQ(rcodeOf(*r), 0);
}

TEST_F(DnsHandlerTest, BlockedSourcePortsGetNoAnswer) {
  Fd blocked = bindUdp(Endpoint::loopback(AF_INET));
  const uint16_t port = Endpoint::local(blocked.get()).port();
  ASSERT_TRUE(start("blocked_source_ports = [53, " + std::to_string(port) + "]"));
  Fd other = bindUdp(Endpoint::loopback(AF_INET));
  // One worker answers in order: once the second is answered, the first would have been.
  ASSERT_TRUE(sendDatagram(blocked.get(), udp(), rawQuery(1, "www.example.com", 1)));
  ASSERT_TRUE(sendDatagram(other.get(), udp(), rawQuery(2, "www.example.com", 1)));
  const std::optional<std::string> r = receiveDatagram(other.get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(idOf(*r), 2);
  EXPECT_FALSE(receiveDatagram(blocked.get(), 0ms).has_value());
}

TEST_F(DnsHandlerTest, RateLimitDropsAndSlipsPerPrefix) {
  ASSERT_TRUE(start("rrl_rate = 5\nrrl_slip = 2"));
  Fd s = bindUdp(Endpoint::loopback(AF_INET));
  constexpr int kQueries = 60;
  for (int i = 0; i < kQueries; ++i) {
    ASSERT_TRUE(
        sendDatagram(s.get(), udp(), rawQuery(static_cast<uint16_t>(i), "www.example.com", 1)));
  }
  // The last query is answered one way or another only if it slips; wait for answers until
  // none comes for a while.
  int full = 0;
  int truncated = 0;
  while (std::optional<std::string> r = receiveDatagram(s.get(), 500ms)) {
    (truncatedFlag(*r) ? truncated : full)++;
  }
  // A second's worth (5) at once, and as many as the time sending took let in; of the rest,
  // every second one truncated.
  EXPECT_GE(full, 5);
  EXPECT_LE(full, 15);
  EXPECT_GE(truncated, (kQueries - full) / 2 - 1);
  EXPECT_LE(truncated, (kQueries - full + 1) / 2);
}

}  // namespace
}  // namespace portd::itest
