#include "handlers/dns/message.h"

#include <cstring>

namespace portd::handlers::dns {

bool readName(const uint8_t* msg, size_t len, size_t* pos, uint8_t* out, size_t* out_len) {
  size_t at = *pos;
  size_t end = 0;  // where the name ends in the message at *pos, once a pointer is taken
  size_t total = 0;
  int hops = 0;
  while (true) {
    if (at >= len) {
      return false;
    }
    const uint8_t b = msg[at];
    if ((b & 0xC0) == 0xC0) {
      if (at + 1 >= len || ++hops > kMaxPointerHops) {
        return false;
      }
      const size_t target = static_cast<size_t>(b & 0x3F) << 8 | msg[at + 1];
      if (target >= at) {
        return false;
      }
      if (end == 0) {
        end = at + 2;
      }
      at = target;
      continue;
    }
    if ((b & 0xC0) != 0) {
      return false;  // 0x40 (extended label types) and 0x80: obsolete, never in a query
    }
    total += 1 + b;
    if (total > kMaxName || at + 1 + b > len) {
      return false;
    }
    if (out != nullptr) {
      std::memcpy(out + total - 1 - b, msg + at, 1 + b);
    }
    at += 1 + b;
    if (b == 0) {
      break;
    }
  }
  *pos = end != 0 ? end : at;
  if (out_len != nullptr) {
    *out_len = total;
  }
  return true;
}

namespace {

// Walks one resource record at *pos; false when it does not fit.
bool skipRecord(const uint8_t* msg, size_t len, size_t* pos) {
  if (!readName(msg, len, pos, nullptr, nullptr) || len - *pos < 10) {
    return false;
  }
  const size_t rdlength = get16(msg + *pos + 8);
  *pos += 10;
  if (len - *pos < rdlength) {
    return false;
  }
  *pos += rdlength;
  return true;
}

bool readQuestion(const uint8_t* msg, size_t len, size_t* pos, Query* q) {
  size_t n = 0;
  if (!readName(msg, len, pos, q->qname, &n) || len - *pos < 4) {
    return false;
  }
  q->qname_len = static_cast<uint8_t>(n);
  q->qtype = get16(msg + *pos);
  q->qclass = get16(msg + *pos + 2);
  *pos += 4;
  q->has_question = true;
  return true;
}

}  // namespace

ParseResult parseQuery(const uint8_t* msg, size_t len, Query* q) {
  q->has_question = false;
  q->edns = false;
  q->edns_version = 0;
  q->dnssec_ok = false;
  if (len < kHeaderSize) {
    return ParseResult::kDrop;
  }
  q->id = get16(msg);
  q->flags = get16(msg + 2);
  if ((q->flags & kFlagQR) != 0) {
    return ParseResult::kDrop;
  }
  q->opcode = static_cast<uint8_t>((q->flags >> 11) & 0xF);
  const uint16_t qdcount = get16(msg + 4);
  const uint16_t ancount = get16(msg + 6);
  const uint16_t nscount = get16(msg + 8);
  const uint16_t arcount = get16(msg + 10);
  size_t pos = kHeaderSize;
  // An unknown opcode is NOTIMP whatever its sections hold; they are still read, so that its
  // answer can echo the question and carry OPT when the query did, as for any other.
  const ParseResult bad = q->opcode != 0 ? ParseResult::kNotImp : ParseResult::kFormErr;
  if (qdcount > 1 || (qdcount == 0 && q->opcode == 0)) {
    return bad;
  }
  if (qdcount == 1 && !readQuestion(msg, len, &pos, q)) {
    return bad;
  }
  for (uint32_t i = 0; i < uint32_t{ancount} + nscount; ++i) {
    if (!skipRecord(msg, len, &pos)) {
      return bad;
    }
  }
  for (uint16_t i = 0; i < arcount; ++i) {
    const size_t start = pos;
    if (!skipRecord(msg, len, &pos)) {
      return bad;
    }
    // The fixed part of the record starts after its owner name; an OPT's owner is the root,
    // one zero byte (RFC 6891 6.1.2).
    size_t fixed = start;
    readName(msg, len, &fixed, nullptr, nullptr);
    if (get16(msg + fixed) != kOPT) {
      continue;
    }
    if (q->edns || fixed != start + 1 || msg[start] != 0) {
      q->edns = false;
      return bad;
    }
    q->edns = true;
    q->payload = get16(msg + fixed + 2);
    q->edns_version = msg[fixed + 5];
    q->dnssec_ok = (msg[fixed + 6] & 0x80) != 0;
  }
  if (pos != len) {
    return bad;
  }
  return q->opcode != 0 ? ParseResult::kNotImp : ParseResult::kOk;
}

}  // namespace portd::handlers::dns
