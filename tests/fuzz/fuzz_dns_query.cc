// Fuzz target for the dns handler's query path (daemon/handlers/dns/): the input is a datagram
// or TCP message from anyone. It is parsed and answered against a small zone (CNAME chain and
// loop, wildcard, empty non-terminal, an RRset too big for 512 bytes), at the limits UDP
// without EDNS, UDP with the client's EDNS payload and TCP give, with and without the fault
// overrides. Any broken invariant aborts:
//  - the answer is no longer than its limit and at least a header;
//  - it carries the query's ID, QR=1 and the query's opcode;
//  - it reads back whole: every count matches the records that follow, every name (pointers
//    followed, backwards only) is valid, and nothing trails the last record;
//  - a TC=1 answer holds no records but OPT.
// The input is a heap copy of its own, so that AddressSanitizer catches a look past its end.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "handlers/dns/answer.h"
#include "handlers/dns/master_file.h"
#include "handlers/dns/message.h"
#include "handlers/dns/wire.h"

using namespace portd::handlers::dns;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_dns_query: invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) {
    fail(what);
  }
}

const ZoneSet& zones() {
  static const ZoneSet set = [] {
    std::string text =
        "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\n"
        "ns1 A 192.0.2.53\nwww A 192.0.2.1\nwww AAAA 2001:db8::1\n@ MX 10 mail\n"
        "mail A 192.0.2.25\nalias CNAME www\nloop1 CNAME loop2\nloop2 CNAME loop1\n"
        "out CNAME www.example.org.\n*.wild A 192.0.2.99\na.b.c A 192.0.2.7\n"
        "_sip._tcp SRV 1 2 5060 sip\ntxt TXT \"hello\" \"world\"\n"
        "$ORIGIN 2.0.192.in-addr.arpa.\n@ SOA ns1.example.com. h.example.com. 1 2 3 4 5\n"
        "1 PTR www.example.com.\n$ORIGIN example.com.\n";
    for (int i = 0; i < 12; ++i) {
      text += "big TXT \"" + std::string(100, 'x') + std::to_string(i) + "\"\n";
    }
    std::vector<Record> records;
    parseMasterFile(text, "fuzz", 1000, &records);
    return ZoneSet::build(std::move(records));
  }();
  return set;
}

void checkAnswer(const uint8_t* in, size_t in_len, const uint8_t* a, size_t n, size_t limit) {
  check(n >= kHeaderSize, "an answer shorter than a header");
  check(n <= limit, "an answer over its limit");
  check(get16(a) == get16(in), "the answer has another ID");
  const uint16_t flags = get16(a + 2);
  check((flags & kFlagQR) != 0, "QR is not set");
  check(((flags >> 11) & 0xF) == ((get16(in + 2) >> 11) & 0xF), "another opcode");
  size_t pos = kHeaderSize;
  uint8_t name[kMaxName];
  size_t len = 0;
  const uint16_t qd = get16(a + 4);
  check(qd <= 1, "more than one question");
  if (qd == 1) {
    check(readName(a, n, &pos, name, &len), "the question's name does not read");
    check(n - pos >= 4, "the question is cut");
    pos += 4;
  }
  const uint32_t records = uint32_t{get16(a + 6)} + get16(a + 8) + get16(a + 10);
  size_t non_opt = 0;
  for (uint32_t i = 0; i < records; ++i) {
    check(readName(a, n, &pos, name, &len), "a record's name does not read");
    check(n - pos >= 10, "a record is cut");
    const uint16_t type = get16(a + pos);
    const size_t rdlen = get16(a + pos + 8);
    pos += 10;
    check(n - pos >= rdlen, "rdata is cut");
    if (type == kCNAME || type == kNS || type == kPTR) {
      size_t at = pos;
      check(readName(a, pos + rdlen, &at, name, &len) && at == pos + rdlen,
            "a name in rdata does not read");
    }
    non_opt += type != kOPT;
    pos += rdlen;
  }
  check(pos == n, "bytes after the last record");
  if ((flags & kFlagTC) != 0) {
    check(non_opt == 0, "a truncated answer holds records");
  }
  (void)in_len;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> in(data, data + size);
  Query q;
  const ParseResult r = parseQuery(in.data(), in.size(), &q);
  if (r == ParseResult::kDrop) {
    check(size < kHeaderSize || (data[2] & 0x80) != 0, "dropped an answerable message");
    return 0;
  }
  AnswerSettings settings;
  std::vector<uint8_t> out(kMaxMessage);
  const size_t limits[] = {kClassicUdp, udpLimit(q, settings), kMaxMessage};
  for (size_t limit : limits) {
    for (Override o : {Override::kNone, Override::kServFail, Override::kTruncate}) {
      AnswerInfo info;
      const size_t n = buildAnswer(zones(), settings, q, r, o, out.data(), limit, &info);
      checkAnswer(in.data(), in.size(), out.data(), n, limit);
      check(info.truncated == ((get16(out.data() + 2) & kFlagTC) != 0), "TC and info disagree");
    }
  }
  return 0;
}
