#pragma once

#include <cstddef>
#include <cstdint>

#include "handlers/dns/message.h"
#include "handlers/dns/zone.h"

// Building an answer into a caller's buffer: no allocation, the buffer is the instance's own.
namespace portd::handlers::dns {

// CNAME records followed from the question's name before the answer stops where it is.
inline constexpr int kMaxCnameChain = 8;

// What a fault knob or the rate limiter makes of an answer instead of the real one.
enum class Override {
  kNone,
  kServFail,  // SERVFAIL, the question and (with EDNS) OPT
  kTruncate,  // TC=1 with the header, the question and OPT: the client retries over TCP
};

struct AnswerInfo {
  uint16_t rcode = 0;  // extended (BADVERS is 16)
  bool truncated = false;
};

struct AnswerSettings {
  // The largest UDP payload this server advertises and sends (RFC 6891 6.2.5); an EDNS client
  // asking for more gets this much, one asking for less (below 512 counts as 512) gets its own.
  uint16_t max_udp_payload = 1232;
};

// The largest answer a UDP query may get: 512 without EDNS, otherwise the client's payload
// size bounded by ours.
size_t udpLimit(const Query& q, const AnswerSettings& s);

// Writes the answer to `q` (whose parse gave `parsed`, not kDrop) into out, at most `limit`
// bytes (udpLimit() for UDP, 65535 for TCP; out must hold that many), and returns its length.
// RCODEs as RFC 1034 and 8906 ask: NOERROR with the records (CNAME chains followed inside the
// zone), NODATA and NXDOMAIN with the zone's SOA in the authority section, REFUSED outside
// every zone (and for classes other than IN, and zone transfers), NOTIMP for opcodes other
// than QUERY, FORMERR for a malformed query, BADVERS for an EDNS version other than 0. The
// question is echoed as the client wrote it, names are compressed, an OPT record is added only
// when the query had one, and an answer over `limit` is sent truncated (TC=1, header, question,
// OPT).
size_t buildAnswer(const ZoneSet& zones, const AnswerSettings& settings, const Query& q,
                   ParseResult parsed, Override override, uint8_t* out, size_t limit,
                   AnswerInfo* info);

}  // namespace portd::handlers::dns
