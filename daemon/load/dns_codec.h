#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "load/codec.h"

namespace portd::load {

// dns://: one query per datagram, as a stub resolver (or dig) sends it, and its answer checked
// as a resolver would before believing it.
//
// A query is the 12-byte header (ID, flags RD=1 and nothing else, QDCOUNT=1), the question
// (QNAME, QTYPE, QCLASS=IN), and with --edns an EDNS0 OPT record (UDP payload 1232, the DNS
// flag day 2020 size, version 0, DO=0, no options): byte for byte what `dig +noedns +noadflag`
// sends, or with --edns `dig +nocookie +noadflag +bufsize=1232`. RD=1 is what dig, kdig and
// dnsperf send; an authoritative server ignores it. No EDNS by default, as dnsperf.
inline constexpr size_t kDnsHeader = 12;
inline constexpr uint16_t kDnsEdnsPayload = 1232;

// A query's status, as answer() reports it: the RCODE (with EDNS, the 12-bit extended RCODE),
// plus this flag when the answer was truncated (TC=1).
inline constexpr int kDnsTruncated = 1 << 16;
inline constexpr int kDnsRcodeMask = 0xfff;

// A query line, "NAME TYPE", parsed and encoded.
struct DnsQuestion {
  std::string qname;  // wire format: length-prefixed labels, then the root's zero
  uint16_t qtype = 0;
};

// Parses "NAME TYPE" (e.g. "www.example.com A"): NAME in the master file form (a final dot is
// optional; \X and \DDD escapes), TYPE one of A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, NAPTR,
// DS, DNSKEY, SVCB, HTTPS, CAA, ANY (any case) or TYPEnnn (RFC 3597). The class is IN. Returns
// false with the reason in *error.
bool parseDnsQuestion(std::string_view line, DnsQuestion* out, std::string* error);

// The whole query message for `q`, with ID 0.
std::string encodeDnsQuery(const DnsQuestion& q, bool edns);

// Request k is query k mod N, with ID k mod 65536. Everything is encoded once, here: a request
// is a memcpy and the ID written over, with no allocation.
//
// answer() believes a datagram only if it is the answer to a query of ours, checked as hostile
// input: QR=1 and opcode QUERY; the ID is the low 16 bits of a sequence number sent (the latest
// such, as DatagramTracker::fromLowBits will say), whose query is then known (seq mod N); the
// question echoes that query's (QDCOUNT=1, the name compared case-insensitively, as servers may
// echo the case they were sent or not); and the records are read through to the end of the
// message, exactly: names whose compression pointers go only backwards (each before the last
// place jumped to, so they cannot loop), at most 255 bytes long; counts that claim more records
// than the message holds, or bytes after the last record, mean it is not an answer. The status
// is the RCODE, extended by an OPT record's upper bits when there is one (only one, with the root
// name, in the additional section). A truncated answer (TC=1) need only be right up to the
// question: what follows may have been cut anywhere.
class DnsDatagramCodec final : public DatagramCodec {
 public:
  // `questions`: at least one.
  DnsDatagramCodec(const std::vector<DnsQuestion>& questions, bool edns);

  size_t request(char* buf, size_t capacity, uint64_t seq, uint64_t intended_ns,
                 uint64_t sent_ns) override;
  bool answer(std::string_view in, uint64_t* seq, int* status) override;
  unsigned seqBits() const override { return 16; }

 private:
  struct Query {
    std::string message;  // ID 0
    size_t qname_len;     // the question's name, at kDnsHeader
  };
  std::vector<Query> queries_;
  uint64_t next_seq_ = 0;  // one past the highest sequence number written
};

// The codec of a dns:// run's query lines; nullptr if there is none or one does not parse
// (the command line has refused those already, naming the line).
std::unique_ptr<DatagramCodec> makeDnsCodec(const std::vector<std::string>& lines, bool edns);

}  // namespace portd::load
