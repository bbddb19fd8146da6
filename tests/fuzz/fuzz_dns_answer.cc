// Fuzz target for portd load's DNS answer parser (DnsDatagramCodec::answer(), daemon/load/
// dns_codec.h): the input is a datagram from whoever answers, or pretends to, on the target's
// address. Its first byte picks the query that was asked (bits 0-2: one of eight, bit 3: with
// EDNS); the rest is the datagram. It is read by a codec that sent that query with every ID,
// and by one that sent eight queries in turn, so that the ID picks the query. Any broken
// invariant aborts:
//  - an accepted answer has QR=1, at least a header and a question, the ID as its sequence
//    number, and a status that is an RCODE of 12 bits, plus the truncation flag when TC=1;
//  - reading is exact: an accepted answer without TC=1 is refused with a byte more or a byte
//    less, as its records end where the message does;
//  - the same datagram reads the same way twice (answer() keeps nothing of what it read).
// The datagram is a heap copy of its own, so that AddressSanitizer catches a read past its end.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "load/dns_codec.h"

using portd::load::DnsDatagramCodec;
using portd::load::DnsQuestion;
using portd::load::kDnsHeader;
using portd::load::kDnsRcodeMask;
using portd::load::kDnsTruncated;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_dns_answer: invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) {
    fail(what);
  }
}

constexpr const char* kQueries[8] = {
    "www.example.test A",   "nope.example.test A",   "www.example.test MX",  "www.example.org A",
    "big.example.test TXT", "www.example.test AAAA", "www.example.test TXT", ". NS",
};

DnsQuestion parse(const char* line) {
  DnsQuestion q;
  std::string error;
  check(portd::load::parseDnsQuestion(line, &q, &error), "a query of the target does not parse");
  return q;
}

// codecs[i]: query i & 7 alone, with EDNS when i & 8; every ID sent (the highest sequence number
// 65535). codecs[16 + e]: the eight queries in turn, EDNS as e, sent up to a sequence number
// above 2^20, so that an ID's query is (2^20 + ID) mod 8.
std::vector<std::unique_ptr<DnsDatagramCodec>>& codecs() {
  static std::vector<std::unique_ptr<DnsDatagramCodec>> all = [] {
    std::vector<std::unique_ptr<DnsDatagramCodec>> v;
    char buf[512];
    for (int i = 0; i < 16; ++i) {
      v.push_back(std::make_unique<DnsDatagramCodec>(
          std::vector<DnsQuestion>{parse(kQueries[i & 7])}, (i & 8) != 0));
      v.back()->request(buf, sizeof buf, 0xffff, 0, 0);
    }
    std::vector<DnsQuestion> every;
    for (const char* q : kQueries) {
      every.push_back(parse(q));
    }
    for (int e = 0; e < 2; ++e) {
      v.push_back(std::make_unique<DnsDatagramCodec>(every, e != 0));
      v.back()->request(buf, sizeof buf, (1u << 20) + 0xffff, 0, 0);
    }
    return v;
  }();
  return all;
}

void readWith(DnsDatagramCodec& codec, const std::string& datagram) {
  uint64_t seq = 0;
  int status = 0;
  if (!codec.answer(datagram, &seq, &status)) {
    return;
  }
  const auto* m = reinterpret_cast<const unsigned char*>(datagram.data());
  check(datagram.size() >= kDnsHeader + 5, "an answer shorter than a header and a question");
  check((m[2] & 0x80) != 0, "a query taken for an answer");
  check(seq == (static_cast<uint64_t>(m[0]) << 8 | m[1]), "the sequence number is not the ID");
  const bool truncated = (m[2] & 0x02) != 0;
  check((status & ~(kDnsRcodeMask | kDnsTruncated)) == 0, "a status that is not an RCODE");
  check(((status & kDnsTruncated) != 0) == truncated, "truncation reported wrongly");
  check((status & 0xf) == (m[3] & 0xf), "the RCODE's lower bits are not the header's");

  uint64_t again_seq = 0;
  int again_status = 0;
  check(codec.answer(datagram, &again_seq, &again_status) && again_seq == seq &&
            again_status == status,
        "the same datagram read differently twice");
  if (!truncated) {
    uint64_t s = 0;
    int st = 0;
    check(!codec.answer(datagram + std::string(1, '\0'), &s, &st), "a byte more was accepted");
    check(!codec.answer(datagram.substr(0, datagram.size() - 1), &s, &st),
          "a byte less was accepted");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const unsigned pick = data[0];
  const std::string datagram(reinterpret_cast<const char*>(data) + 1, size - 1);
  readWith(*codecs()[pick & 15], datagram);
  readWith(*codecs()[16 + ((pick >> 3) & 1)], datagram);
  return 0;
}
