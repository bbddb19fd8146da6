#include "handlers/http/simple_head.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "handlers/http/field_syntax.h"

namespace portd::handlers::http {

namespace {

// The classes of a byte, as a table: one lookup a byte is most of what reading such a head
// costs.
enum : uint8_t { kTargetByte = 1, kTokenByte = 2, kValueByte = 4 };

constexpr std::array<uint8_t, 256> kBytes = [] {
  std::array<uint8_t, 256> t{};
  auto mark = [&t](std::string_view chars, uint8_t cls) {
    for (char c : chars) {
      t[static_cast<unsigned char>(c)] |= cls;
    }
  };
  for (int c = 0x20; c < 0x7f; ++c) {
    t[static_cast<size_t>(c)] |= kValueByte;
  }
  for (int c = 0; c < 26; ++c) {
    t[static_cast<size_t>('a' + c)] |= kTargetByte | kTokenByte;
    t[static_cast<size_t>('A' + c)] |= kTargetByte | kTokenByte;
  }
  for (int c = '0'; c <= '9'; ++c) {
    t[static_cast<size_t>(c)] |= kTargetByte | kTokenByte;
  }
  mark("-._~!$&'()*+,;=:@/?%", kTargetByte);
  mark("!#$%&'*+-.^_`|~", kTokenByte);
  return t;
}();

bool is(char c, uint8_t cls) { return (kBytes[static_cast<unsigned char>(c)] & cls) != 0; }

// The first byte from `p` that is not a field-value byte (0x20 to 0x7e), or `end`. Values are
// most of a head's bytes: sixteen at a time where SSE2 is there.
const char* skipValue(const char* p, const char* end) {
#ifdef __SSE2__
  const __m128i below = _mm_set1_epi8(0x20);
  const __m128i above = _mm_set1_epi8(0x7e);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compares: bytes from 0x80 up are negative, below 0x20 as the control bytes are.
    const __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, below), _mm_cmpgt_epi8(v, above));
    if (const int mask = _mm_movemask_epi8(bad); mask != 0) {
      return p + __builtin_ctz(static_cast<unsigned>(mask));
    }
    p += 16;
  }
#endif
  while (p < end && is(*p, kValueByte)) {
    ++p;
  }
  return p;
}

// `name` (token characters only) is `lower`, a lowercase name of letters and '-', ignoring
// case: for such bytes c | 0x20 equals a lowercase letter only for that letter in either case,
// and equals '-' only for '-' (or CR, which is no token character).
template <size_t N>
bool named(std::string_view name, const char (&lower)[N]) {
  if (name.size() != N - 1) {
    return false;
  }
  for (size_t i = 0; i < N - 1; ++i) {
    if ((name[i] | 0x20) != lower[i]) {
      return false;
    }
  }
  return true;
}

enum class Name { kPlain, kHost, kFraming };

// Host is checked here; the fields llhttp gives a meaning to (framing, persistence, upgrade) and
// Expect are left to it and RequestParser. Compared by length first: most names are of none of
// these lengths.
Name classify(std::string_view name) {
  switch (name.size()) {
    case 4:
      return named(name, "host") ? Name::kHost : Name::kPlain;
    case 6:
      return named(name, "expect") ? Name::kFraming : Name::kPlain;
    case 7:
      return named(name, "upgrade") ? Name::kFraming : Name::kPlain;
    case 10:
      return named(name, "connection") ? Name::kFraming : Name::kPlain;
    case 14:
      return named(name, "content-length") ? Name::kFraming : Name::kPlain;
    case 16:
      return named(name, "proxy-connection") ? Name::kFraming : Name::kPlain;
    case 17:
      return named(name, "transfer-encoding") ? Name::kFraming : Name::kPlain;
    default:
      return Name::kPlain;
  }
}

}  // namespace

bool readSimpleHead(std::string_view in, const HttpLimits& limits, SimpleHead* out) {
  // Nothing past the size limit is looked at: a head that does not end within it is llhttp's,
  // which refuses it with 431.
  const char* p = in.data();
  const char* const end = p + std::min<uint64_t>(in.size(), limits.max_header_bytes);
  bool head_method = false;
  if (end - p >= 4 && std::memcmp(p, "GET ", 4) == 0) {
    p += 4;
  } else if (end - p >= 5 && std::memcmp(p, "HEAD ", 5) == 0) {
    head_method = true;
    p += 5;
  } else {
    return false;
  }
  const char* const target = p;
  if (p == end || *p != '/') {
    return false;
  }
  while (p < end && is(*p, kTargetByte)) {
    ++p;
  }
  const std::string_view target_view(target, static_cast<size_t>(p - target));
  if (end - p < 11 || std::memcmp(p, " HTTP/1.1\r\n", 11) != 0) {
    return false;
  }
  p += 11;
  const char* const fields = p;
  uint64_t count = 0;
  int hosts = 0;
  for (;;) {
    if (end - p < 2) {
      return false;
    }
    if (p[0] == '\r') {
      if (p[1] != '\n') {
        return false;
      }
      break;
    }
    const char* const name = p;
    while (p < end && is(*p, kTokenByte)) {
      ++p;
    }
    if (p == name || end - p < 3 || p[0] != ':' || p[1] != ' ') {
      return false;
    }
    const std::string_view name_view(name, static_cast<size_t>(p - name));
    p += 2;
    const char* const value = p;
    p = skipValue(p, end);
    // No whitespace to trim on either side: the value is the bytes sent.
    if (p == value || end - p < 2 || p[0] != '\r' || p[1] != '\n' || value[0] == ' ' ||
        p[-1] == ' ') {
      return false;
    }
    const std::string_view value_view(value, static_cast<size_t>(p - value));
    p += 2;
    if (++count > limits.max_headers) {
      return false;
    }
    switch (classify(name_view)) {
      case Name::kPlain:
        break;
      case Name::kHost:
        if (++hosts > 1 || !isHostValue(value_view)) {
          return false;
        }
        break;
      case Name::kFraming:
        return false;
    }
  }
  if (hosts == 0) {
    return false;
  }
  out->size = static_cast<size_t>(p + 2 - in.data());
  out->head_method = head_method;
  out->target = target_view;
  out->headers = std::string_view(fields, static_cast<size_t>(p - fields));
  return true;
}

}  // namespace portd::handlers::http
