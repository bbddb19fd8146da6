#include "handlers/dns/master_file.h"

#include <arpa/inet.h>

#include <cstring>
#include <span>
#include <stdexcept>

#include "handlers/dns/wire.h"

namespace portd::handlers::dns {

namespace {

struct Token {
  std::string text;  // escapes kept as written; decoded where the token is read
  bool quoted = false;
};

// One logical line: a record or a directive, with the parentheses already taken out.
struct Entry {
  size_t line = 0;
  bool owner_omitted = false;  // the line started with a blank
  std::vector<Token> tokens;
};

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(static_cast<uint8_t>(a[i])) != lowerAscii(static_cast<uint8_t>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Splits the text into entries; calls `take` with each.
template <typename Take>
void tokenize(std::string_view text, Take take) {
  Entry e;
  size_t line = 1;
  size_t paren_line = 0;
  int depth = 0;
  bool at_line_start = true;
  size_t i = 0;
  auto finish = [&] {
    if (!e.tokens.empty()) {
      take(e);
    }
    e = Entry{};
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
      if (depth == 0) {
        finish();
        at_line_start = true;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      if (at_line_start && depth == 0 && e.tokens.empty()) {
        e.owner_omitted = true;
      }
      at_line_start = false;
      ++i;
      continue;
    }
    at_line_start = false;
    if (c == ';') {
      while (i < text.size() && text[i] != '\n') {
        ++i;
      }
      continue;
    }
    if (e.tokens.empty() && e.line == 0) {
      e.line = line;
    }
    if (c == '(') {
      if (depth++ == 0) {
        paren_line = line;
      }
      ++i;
      continue;
    }
    if (c == ')') {
      if (depth == 0) {
        throw Error(std::to_string(line) + ": ')' without '('");
      }
      --depth;
      ++i;
      continue;
    }
    Token t;
    if (c == '"') {
      t.quoted = true;
      ++i;
      while (true) {
        if (i >= text.size() || text[i] == '\n') {
          throw Error(std::to_string(line) + ": a quoted string is not closed on its line");
        }
        if (text[i] == '"') {
          ++i;
          break;
        }
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
          t.text += text[i++];
        }
        t.text += text[i++];
      }
    } else {
      while (i < text.size()) {
        const char d = text[i];
        if (d == ' ' || d == '\t' || d == '\r' || d == '\n' || d == ';' || d == '(' || d == ')' ||
            d == '"') {
          break;
        }
        if (d == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
          t.text += text[i++];
        }
        t.text += text[i++];
      }
    }
    if (e.tokens.empty()) {
      e.line = line;
    }
    e.tokens.push_back(std::move(t));
  }
  if (depth != 0) {
    throw Error(std::to_string(paren_line) + ": '(' is never closed");
  }
  finish();
}

// Decodes \X and \DDD of a token into bytes.
bool unescape(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 1 >= in.size()) {
      return false;
    }
    if (in[i + 1] >= '0' && in[i + 1] <= '9') {
      int v = 0;
      for (size_t k = 1; k <= 3; ++k) {
        if (i + k >= in.size() || in[i + k] < '0' || in[i + k] > '9') {
          return false;
        }
        v = v * 10 + (in[i + k] - '0');
      }
      if (v > 255) {
        return false;
      }
      out->push_back(static_cast<char>(v));
      i += 3;
    } else {
      out->push_back(in[++i]);
    }
  }
  return true;
}

// A TTL or SOA timer: digits, or BIND's units (1w2d3h4m5s). At most 2^31-1 (RFC 2181 8).
bool parseTtl(std::string_view t, uint32_t* out) {
  if (t.empty() || t[0] < '0' || t[0] > '9') {
    return false;
  }
  uint64_t total = 0;
  uint64_t n = 0;
  bool digits = false;
  for (char c : t) {
    if (c >= '0' && c <= '9') {
      n = n * 10 + static_cast<uint64_t>(c - '0');
      digits = true;
      if (n > 0x7FFFFFFF) {
        return false;
      }
      continue;
    }
    uint64_t unit = 0;
    switch (lowerAscii(static_cast<uint8_t>(c))) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      case 'w':
        unit = 604800;
        break;
      default:
        return false;
    }
    if (!digits) {
      return false;
    }
    total += n * unit;
    n = 0;
    digits = false;
    if (total > 0x7FFFFFFF) {
      return false;
    }
  }
  total += n;
  if (total > 0x7FFFFFFF) {
    return false;
  }
  *out = static_cast<uint32_t>(total);
  return true;
}

// A decimal number of at most `max`.
bool parseNumber(std::string_view t, uint64_t max, uint64_t* out) {
  uint64_t v = 0;
  if (t.empty() || t.size() > 10) {
    return false;
  }
  for (char c : t) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) {
    return false;
  }
  *out = v;
  return true;
}

bool parseU16(std::string_view t, uint16_t* out) {
  uint64_t v = 0;
  if (!parseNumber(t, 0xFFFF, &v)) {
    return false;
  }
  *out = static_cast<uint16_t>(v);
  return true;
}

bool parseU32(std::string_view t, uint32_t* out) {
  uint64_t v = 0;
  if (!parseNumber(t, 0xFFFFFFFF, &v)) {
    return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

struct TypeName {
  const char* name;
  uint16_t type;
};
constexpr TypeName kTypes[] = {{"A", kA},     {"AAAA", kAAAA}, {"CNAME", kCNAME},
                               {"NS", kNS},   {"SOA", kSOA},   {"MX", kMX},
                               {"TXT", kTXT}, {"SRV", kSRV},   {"PTR", kPTR}};

uint16_t typeFromText(std::string_view t) {
  for (const TypeName& n : kTypes) {
    if (equalsNoCase(t, n.name)) {
      return n.type;
    }
  }
  return 0;
}

void put16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}
void put32(std::string* out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}

class Parser {
 public:
  Parser(std::string_view source, size_t max_records, std::vector<Record>* out)
      : source_(source), max_records_(max_records), out_(out) {}

  void entry(const Entry& e) {
    line_ = e.line;
    const std::vector<Token>& t = e.tokens;
    if (!e.owner_omitted && !t[0].quoted && !t[0].text.empty() && t[0].text[0] == '$') {
      directive(t);
      return;
    }
    size_t i = 0;
    if (!e.owner_omitted) {
      owner_ = lowercaseName(name(t[0], "owner name"));
      i = 1;
    } else if (owner_.empty()) {
      fail("no owner name, and no record before this one to take it from");
    }
    bool have_ttl = false;
    uint32_t ttl = 0;
    bool have_class = false;
    while (i < t.size()) {
      if (!have_ttl && !t[i].quoted && parseTtl(t[i].text, &ttl)) {
        have_ttl = true;
      } else if (!have_class && !t[i].quoted && equalsNoCase(t[i].text, "IN")) {
        have_class = true;
      } else if (!have_class && !t[i].quoted &&
                 (equalsNoCase(t[i].text, "CH") || equalsNoCase(t[i].text, "HS") ||
                  equalsNoCase(t[i].text, "CS"))) {
        fail("class " + t[i].text + " is not supported (only IN)");
      } else {
        break;
      }
      ++i;
    }
    if (i >= t.size()) {
      fail("no record type");
    }
    const uint16_t type = typeFromText(t[i].text);
    if (type == 0 || t[i].quoted) {
      fail("unknown or unsupported record type \"" + t[i].text +
           "\" (supported: A, AAAA, CNAME, NS, SOA, MX, TXT, SRV, PTR)");
    }
    ++i;
    if (have_ttl) {
      last_ttl_ = ttl;
      have_last_ttl_ = true;
    } else if (have_default_ttl_) {
      ttl = default_ttl_;
    } else if (have_last_ttl_) {
      ttl = last_ttl_;
    } else {
      fail("no TTL: give one, or a $TTL line before the record");
    }
    if (out_->size() >= max_records_) {
      fail("more than max_zone_records (" + std::to_string(max_records_) + ") records");
    }
    Record r;
    r.owner = owner_;
    r.type = type;
    r.ttl = ttl;
    r.where = std::string(source_) + ":" + std::to_string(line_);
    rdata(type, std::span<const Token>(t).subspan(i), &r.rdata);
    out_->push_back(std::move(r));
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(std::string(source_) + ":" + std::to_string(line_) + ": " + why);
  }

  std::string name(const Token& t, const char* what) const {
    std::string wire;
    std::string error;
    if (t.quoted || !nameFromText(t.text, origin_, &wire, &error)) {
      fail(std::string("bad ") + what + " \"" + t.text +
           "\": " + (t.quoted ? "a name is not quoted" : error));
    }
    return wire;
  }

  void directive(const std::vector<Token>& t) {
    const std::string& d = t[0].text;
    if (equalsNoCase(d, "$ORIGIN")) {
      if (t.size() != 2) {
        fail("$ORIGIN takes one name");
      }
      origin_ = lowercaseName(name(t[1], "$ORIGIN"));
    } else if (equalsNoCase(d, "$TTL")) {
      if (t.size() != 2 || !parseTtl(t[1].text, &default_ttl_)) {
        fail("$TTL takes one TTL (seconds, or with units: 1h, 2d)");
      }
      have_default_ttl_ = true;
    } else if (equalsNoCase(d, "$INCLUDE")) {
      fail("$INCLUDE is not supported: name each file in zone_file instead");
    } else {
      fail("unknown directive " + d);
    }
  }

  void expectCount(std::span<const Token> t, size_t n, const char* form) const {
    if (t.size() != n) {
      fail(std::string("expected ") + form);
    }
  }

  void rdata(uint16_t type, std::span<const Token> t, std::string* out) const {
    switch (type) {
      case kA:
      case kAAAA: {
        const bool v4 = type == kA;
        expectCount(t, 1, v4 ? "A ADDRESS" : "AAAA ADDRESS");
        uint8_t bytes[16];
        if (t[0].quoted || inet_pton(v4 ? AF_INET : AF_INET6, t[0].text.c_str(), bytes) != 1) {
          fail(std::string("bad ") + (v4 ? "IPv4" : "IPv6") + " address \"" + t[0].text + "\"");
        }
        out->assign(reinterpret_cast<const char*>(bytes), v4 ? 4 : 16);
        break;
      }
      case kNS:
      case kCNAME:
      case kPTR:
        expectCount(t, 1, "one name");
        *out = name(t[0], "name");
        break;
      case kMX: {
        expectCount(t, 2, "MX PREFERENCE NAME");
        uint16_t pref = 0;
        if (!parseU16(t[0].text, &pref)) {
          fail("bad MX preference \"" + t[0].text + "\"");
        }
        put16(out, pref);
        *out += name(t[1], "mail exchange");
        break;
      }
      case kSRV: {
        expectCount(t, 4, "SRV PRIORITY WEIGHT PORT TARGET");
        for (size_t k = 0; k < 3; ++k) {
          uint16_t v = 0;
          if (!parseU16(t[k].text, &v)) {
            fail("bad SRV number \"" + t[k].text + "\"");
          }
          put16(out, v);
        }
        *out += name(t[3], "SRV target");
        break;
      }
      case kTXT: {
        if (t.empty()) {
          fail("expected TXT \"STRING\" ...");
        }
        std::string s;
        for (const Token& tok : t) {
          if (!unescape(tok.text, &s)) {
            fail("bad escape in \"" + tok.text + "\"");
          }
          if (s.size() > 255) {
            fail("a TXT string longer than 255 bytes (split it into several strings)");
          }
          out->push_back(static_cast<char>(s.size()));
          *out += s;
        }
        if (out->size() > 65535) {
          fail("TXT data longer than 65535 bytes");
        }
        break;
      }
      case kSOA: {
        expectCount(t, 7, "SOA MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM");
        *out = name(t[0], "SOA MNAME");
        *out += name(t[1], "SOA RNAME");
        uint32_t serial = 0;
        if (!parseU32(t[2].text, &serial)) {
          fail("bad SOA serial \"" + t[2].text + "\"");
        }
        put32(out, serial);
        for (size_t k = 3; k < 7; ++k) {
          uint32_t v = 0;
          if (!parseTtl(t[k].text, &v)) {
            fail("bad SOA timer \"" + t[k].text + "\"");
          }
          put32(out, v);
        }
        break;
      }
      default:
        break;
    }
  }

  std::string_view source_;
  size_t max_records_;
  std::vector<Record>* out_;
  size_t line_ = 0;
  std::string origin_;
  std::string owner_;
  uint32_t default_ttl_ = 0;
  bool have_default_ttl_ = false;
  uint32_t last_ttl_ = 0;
  bool have_last_ttl_ = false;
};

}  // namespace

std::string lowercaseName(std::string_view name) {
  std::string out(name);
  // Length bytes are at most 63, below 'A', so lowering every byte leaves them alone.
  for (char& c : out) {
    c = static_cast<char>(lowerAscii(static_cast<uint8_t>(c)));
  }
  return out;
}

bool nameFromText(std::string_view text, std::string_view origin, std::string* out,
                  std::string* error) {
  out->clear();
  if (text == "@") {
    if (origin.empty()) {
      *error = "\"@\" with no $ORIGIN";
      return false;
    }
    *out = std::string(origin);
    return true;
  }
  if (text == ".") {
    out->push_back('\0');
    return true;
  }
  std::string label;
  bool absolute = false;
  size_t i = 0;
  while (i <= text.size()) {
    if (i == text.size() || text[i] == '.') {
      if (label.empty()) {
        if (i == text.size() && i > 0) {
          absolute = true;  // the final dot
          break;
        }
        *error = "an empty label";
        return false;
      }
      if (label.size() > kMaxLabel) {
        *error = "a label longer than 63 bytes";
        return false;
      }
      out->push_back(static_cast<char>(label.size()));
      *out += label;
      label.clear();
      if (i == text.size()) {
        break;
      }
      ++i;
      if (i == text.size()) {
        absolute = true;
        break;
      }
      continue;
    }
    if (text[i] == '\\') {
      std::string one;
      size_t len = (i + 1 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '9') ? 4 : 2;
      if (!unescape(text.substr(i, len), &one) || one.size() != 1) {
        *error = "a bad escape";
        return false;
      }
      label += one;
      i += len;
      continue;
    }
    label.push_back(text[i++]);
  }
  if (!absolute) {
    if (origin.empty()) {
      *error = "a relative name with no $ORIGIN";
      return false;
    }
    *out += origin;
  } else {
    out->push_back('\0');
  }
  if (out->size() > kMaxName) {
    *error = "a name longer than 255 bytes";
    return false;
  }
  return true;
}

void parseMasterFile(std::string_view text, std::string_view source, size_t max_records,
                     std::vector<Record>* out) {
  Parser parser(source, max_records, out);
  try {
    tokenize(text, [&](const Entry& e) { parser.entry(e); });
  } catch (const Error& e) {
    // The tokenizer knows the line only.
    throw std::runtime_error(std::string(source) + ":" + e.what());
  }
}

}  // namespace portd::handlers::dns
