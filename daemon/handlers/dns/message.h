#pragma once

#include <cstddef>
#include <cstdint>

#include "handlers/dns/wire.h"

// Reading a query: the one part of the dns handler that sees bytes from the network, so every
// length, count and pointer is checked before it is used, and nothing allocates.
namespace portd::handlers::dns {

// A pointer chain longer than this is refused even though it goes backwards: a legitimate
// message needs one or two hops, and the bound keeps the work per name small.
inline constexpr int kMaxPointerHops = 16;

// Reads the name at *pos of msg[0, len), following compression pointers, which must each point
// before the label that holds them (RFC 1035 4.1.4 does not say so, but no encoder needs a
// forward pointer, and refusing them makes loops impossible). Labels of at most 63 bytes, the
// whole name at most 255; the 0x40 and 0x80 label types are refused. On success *pos is just
// past the name as it stands at *pos (past the first pointer, if any) and, when out is not
// null, out[0, *out_len) holds the name uncompressed, in the case it was written.
bool readName(const uint8_t* msg, size_t len, size_t* pos, uint8_t* out, size_t* out_len);

struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;  // the second header word, as received
  uint8_t opcode = 0;
  bool has_question = false;  // the question was read (also for NOTIMP and most FORMERRs)
  uint8_t qname[kMaxName];    // uncompressed, in the case the client wrote it
  uint8_t qname_len = 0;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  bool edns = false;  // an OPT record was present and well formed
  uint16_t payload = 0;
  uint8_t edns_version = 0;
  bool dnssec_ok = false;
};

enum class ParseResult {
  kOk,
  kDrop,     // not answerable: shorter than a header, or a response (QR=1), which could loop
  kFormErr,  // malformed; the header (and has_question) say what the answer can echo
  kNotImp,   // an opcode other than QUERY (its question and OPT are read when they can be)
};

// Parses a whole query message. Every record of every section is walked: counts that claim
// more records than the message holds, bytes after the last record, a second OPT record or an
// OPT whose owner is not the root are FORMERR.
ParseResult parseQuery(const uint8_t* msg, size_t len, Query* q);

}  // namespace portd::handlers::dns
