#include "load/dns_codec.h"

#include <charconv>
#include <cstring>

namespace portd::load {

namespace {

constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagTc = 0x0200;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kTypeOpt = 41;
constexpr uint16_t kClassIn = 1;
constexpr size_t kMaxName = 255;     // RFC 1035 2.3.4, in wire format
constexpr size_t kMaxLabel = 63;     // idem
constexpr size_t kRecordFixed = 10;  // type, class, TTL, RDLENGTH after a record's name
// A name has at most 127 labels in its 255 bytes, so a name that needs more pointers than that
// is not one. Pointers only going backwards already bound the walk; this bounds it tighter.
constexpr int kMaxPointers = 127;

struct TypeName {
  std::string_view name;
  uint16_t value;
};
constexpr TypeName kTypes[] = {
    {"A", 1},     {"NS", 2},     {"CNAME", 5}, {"SOA", 6},    {"PTR", 12}, {"MX", 15},
    {"TXT", 16},  {"AAAA", 28},  {"SRV", 33},  {"NAPTR", 35}, {"DS", 43},  {"DNSKEY", 48},
    {"SVCB", 64}, {"HTTPS", 65}, {"ANY", 255}, {"CAA", 257},
};

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

uint16_t get16(const unsigned char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

// A name in the master file form ("www.example.com", a final dot optional, "." the root) to
// wire format: a length byte before each label, a zero at the end.
bool encodeName(std::string_view text, std::string* wire, std::string* error) {
  wire->clear();
  if (text == ".") {
    wire->push_back('\0');
    return true;
  }
  std::string label;
  auto endLabel = [&] {
    if (label.empty()) {
      *error = "an empty label (a leading dot, or two dots in a row)";
      return false;
    }
    if (label.size() > kMaxLabel) {
      *error = "a label longer than 63 bytes";
      return false;
    }
    wire->push_back(static_cast<char>(label.size()));
    wire->append(label);
    label.clear();
    return true;
  };
  for (size_t i = 0; i < text.size();) {
    const char c = text[i++];
    if (c == '.') {
      if (!endLabel()) {
        return false;
      }
    } else if (c != '\\') {
      label.push_back(c);
    } else if (i == text.size()) {
      *error = "a backslash at the end of the name";
      return false;
    } else if (!isDigit(text[i])) {
      label.push_back(text[i++]);  // \X: X itself, e.g. "\." a dot within a label
    } else {
      // \DDD: the byte of that decimal value (RFC 1035 5.1).
      if (i + 3 > text.size() || !isDigit(text[i + 1]) || !isDigit(text[i + 2])) {
        *error = "\\DDD needs three decimal digits";
        return false;
      }
      const int v = (text[i] - '0') * 100 + (text[i + 1] - '0') * 10 + (text[i + 2] - '0');
      if (v > 255) {
        *error = "\\DDD above 255";
        return false;
      }
      label.push_back(static_cast<char>(v));
      i += 3;
    }
  }
  // The last label, unless a final dot closed it already.
  if (!label.empty() && !endLabel()) {
    return false;
  }
  wire->push_back('\0');
  if (wire->size() > kMaxName) {
    *error = "a name longer than 255 bytes in wire format";
    return false;
  }
  return true;
}

bool parseType(std::string_view text, uint16_t* out) {
  for (const TypeName& t : kTypes) {
    if (equalsNoCase(text, t.name)) {
      *out = t.value;
      return true;
    }
  }
  // RFC 3597's generic form: TYPE and the number, for types without a mnemonic here.
  if (text.size() > 4 && text.size() <= 9 && equalsNoCase(text.substr(0, 4), "TYPE")) {
    unsigned v = 0;
    const char* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data() + 4, end, v);
    if (ec == std::errc() && p == end && isDigit(text[4]) && v <= 0xffff) {
      *out = static_cast<uint16_t>(v);
      return true;
    }
  }
  return false;
}

// Reads the name at *pos of the message `m` (`n` bytes) and advances *pos past it: past its
// labels, or past the first compression pointer, where the rest of the name is elsewhere. A
// pointer must go before the start of the labels being read, so that each jump lands earlier
// than the previous one and no pointer can loop; and never into the header, where no name is.
// With `expect` (a wire-format name), the name must be that one, in any case.
bool readName(const unsigned char* m, size_t n, size_t* pos, std::string_view expect = {}) {
  size_t p = *pos;
  size_t after = 0;   // past the first pointer, once there is one
  size_t limit = p;   // a pointer must go before here
  size_t length = 0;  // the name's length uncompressed
  size_t matched = 0;
  int pointers = 0;
  for (;;) {
    if (p >= n) {
      return false;
    }
    const unsigned len = m[p];
    if ((len & 0xc0) == 0xc0) {
      if (p + 2 > n) {
        return false;
      }
      const size_t target = (len & 0x3f) << 8 | m[p + 1];
      if (target >= limit || target < kDnsHeader || ++pointers > kMaxPointers) {
        return false;
      }
      if (after == 0) {
        after = p + 2;
      }
      p = limit = target;
      continue;
    }
    if ((len & 0xc0) != 0) {
      return false;  // 01 and 10: extended label types, obsolete (RFC 6891 5)
    }
    length += len + 1;
    if (length > kMaxName || p + 1 + len > n) {
      return false;
    }
    if (!expect.empty()) {
      if (matched + 1 + len > expect.size() || static_cast<unsigned char>(expect[matched]) != len ||
          !equalsNoCase(std::string_view(reinterpret_cast<const char*>(m) + p + 1, len),
                        expect.substr(matched + 1, len))) {
        return false;
      }
      matched += 1 + len;
    }
    p += 1 + len;
    if (len == 0) {
      break;
    }
  }
  if (!expect.empty() && matched != expect.size()) {
    return false;
  }
  *pos = after != 0 ? after : p;
  return true;
}

// Reads the answer, authority and additional records from `pos` to the end of the message:
// each record's name and its fixed part, and that its data fits; what the data says is not
// needed here. *ext gets the upper bits of the RCODE from the OPT record, if there is one.
bool readRecords(const unsigned char* m, size_t n, size_t pos, unsigned before_additional,
                 unsigned total, unsigned* ext) {
  bool opt = false;
  // Each record takes at least 11 bytes, so counts that overstate the message end the loop at
  // its end, whatever they say.
  for (unsigned i = 0; i < total; ++i) {
    const size_t start = pos;
    if (!readName(m, n, &pos) || pos + kRecordFixed > n) {
      return false;
    }
    const uint16_t type = get16(m + pos);
    const size_t rdlength = get16(m + pos + 8);
    if (pos + kRecordFixed + rdlength > n) {
      return false;
    }
    if (type == kTypeOpt) {
      // RFC 6891 6.1.1: at most one, in the additional section, owned by the root.
      if (opt || i < before_additional || m[start] != 0) {
        return false;
      }
      opt = true;
      *ext = m[pos + 4];  // the TTL's first byte: the RCODE's upper 8 bits
    }
    pos += kRecordFixed + rdlength;
  }
  // Counts that understate it leave bytes over: not a message we understand either.
  return pos == n;
}

}  // namespace

bool parseDnsQuestion(std::string_view line, DnsQuestion* out, std::string* error) {
  std::string_view fields[3];
  size_t count = 0;
  for (size_t i = 0; i < line.size();) {
    if (line[i] == ' ' || line[i] == '\t') {
      ++i;
      continue;
    }
    const size_t end = line.find_first_of(" \t", i);
    const size_t stop = end == std::string_view::npos ? line.size() : end;
    if (count == 3) {
      break;
    }
    fields[count++] = line.substr(i, stop - i);
    i = stop;
  }
  if (count != 2) {
    *error = count < 2 ? "expected \"NAME TYPE\", e.g. \"www.example.com A\""
                       : "expected \"NAME TYPE\" and nothing more (the class is always IN)";
    return false;
  }
  DnsQuestion q;
  std::string why;
  if (!encodeName(fields[0], &q.qname, &why)) {
    *error = "name \"" + std::string(fields[0]) + "\": " + why;
    return false;
  }
  if (!parseType(fields[1], &q.qtype)) {
    *error = "type \"" + std::string(fields[1]) +
             "\": not one of A, AAAA, CNAME, NS, SOA, MX, TXT, SRV, PTR, NAPTR, DS, DNSKEY, SVCB, "
             "HTTPS, CAA, ANY, or TYPEnnn (0 to 65535)";
    return false;
  }
  *out = std::move(q);
  return true;
}

std::string encodeDnsQuery(const DnsQuestion& q, bool edns) {
  std::string m;
  put16(m, 0);  // ID, written per request
  put16(m, kFlagRd);
  put16(m, 1);  // QDCOUNT
  put16(m, 0);  // ANCOUNT
  put16(m, 0);  // NSCOUNT
  put16(m, edns ? 1 : 0);
  m += q.qname;
  put16(m, q.qtype);
  put16(m, kClassIn);
  if (edns) {
    m.push_back('\0');  // the root
    put16(m, kTypeOpt);
    put16(m, kDnsEdnsPayload);  // the class: the largest answer we take over UDP
    put16(m, 0);                // the TTL: extended RCODE 0, version 0, then DO=0 and zeros
    put16(m, 0);
    put16(m, 0);  // no options
  }
  return m;
}

DnsDatagramCodec::DnsDatagramCodec(const std::vector<DnsQuestion>& questions, bool edns) {
  queries_.reserve(questions.size());
  for (const DnsQuestion& q : questions) {
    queries_.push_back(Query{encodeDnsQuery(q, edns), q.qname.size()});
  }
}

size_t DnsDatagramCodec::request(char* buf, size_t capacity, uint64_t seq, uint64_t, uint64_t) {
  const Query& q = queries_[seq % queries_.size()];
  // A query is at most 282 bytes and the worker's buffer 64 KiB: this only guards the contract.
  if (q.message.size() > capacity) {
    return 0;
  }
  std::memcpy(buf, q.message.data(), q.message.size());
  buf[0] = static_cast<char>((seq >> 8) & 0xff);
  buf[1] = static_cast<char>(seq & 0xff);
  if (seq >= next_seq_) {
    next_seq_ = seq + 1;
  }
  return q.message.size();
}

bool DnsDatagramCodec::answer(std::string_view in, uint64_t* seq, int* status) {
  const auto* m = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  if (n < kDnsHeader || next_seq_ == 0) {
    return false;
  }
  const uint16_t flags = get16(m + 2);
  if ((flags & kFlagQr) == 0 || ((flags >> 11) & 0xf) != 0) {
    return false;  // a query, or an answer to another opcode than QUERY
  }
  // Which query this ID was: the latest sequence number sent with these low 16 bits, as the
  // worker's tracker will also find, and query seq mod N was sent with it.
  const uint16_t id = get16(m);
  const uint64_t highest = next_seq_ - 1;
  const uint64_t back = (highest - id) & 0xffff;
  if (back > highest) {
    return false;  // an ID none of ours had yet
  }
  const Query& q = queries_[(highest - back) % queries_.size()];
  if (get16(m + 4) != 1) {
    return false;  // no question to check the answer against, or several
  }
  size_t pos = kDnsHeader;
  const std::string_view qname(q.message.data() + kDnsHeader, q.qname_len);
  if (!readName(m, n, &pos, qname) || pos + 4 > n ||
      std::memcmp(m + pos, q.message.data() + kDnsHeader + q.qname_len, 4) != 0) {
    return false;  // the type and class must be ours too
  }
  pos += 4;
  const bool truncated = (flags & kFlagTc) != 0;
  unsigned ext = 0;
  const unsigned answers = get16(m + 6);
  const unsigned authority = get16(m + 8);
  const unsigned additional = get16(m + 10);
  const bool whole =
      readRecords(m, n, pos, answers + authority, answers + authority + additional, &ext);
  // A truncated message may end anywhere after its question (servers differ in what they keep
  // and what the counts then say): its RCODE is the header's, its OPT record is not looked for.
  if (!whole && !truncated) {
    return false;
  }
  int rcode = flags & 0xf;
  if (whole) {
    rcode |= static_cast<int>(ext << 4);
  }
  *seq = id;
  *status = rcode | (truncated ? kDnsTruncated : 0);
  return true;
}

std::unique_ptr<DatagramCodec> makeDnsCodec(const std::vector<std::string>& lines, bool edns) {
  std::vector<DnsQuestion> questions;
  questions.reserve(lines.size());
  for (const std::string& line : lines) {
    DnsQuestion q;
    std::string error;
    if (!parseDnsQuestion(line, &q, &error)) {
      return nullptr;
    }
    questions.push_back(std::move(q));
  }
  if (questions.empty()) {
    return nullptr;
  }
  return std::make_unique<DnsDatagramCodec>(questions, edns);
}

}  // namespace portd::load
