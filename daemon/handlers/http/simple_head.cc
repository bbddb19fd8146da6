#include "handlers/http/simple_head.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace portd::handlers::http {

namespace {

// The classes of a byte, as a table: how bytes are read without SSE2, and how its steps decide
// about a byte they do not take at once (see skip()).
enum : uint8_t { kTargetByte = 1, kTokenByte = 2, kValueByte = 4, kHostByte = 8, kPathByte = 16 };

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
    t[static_cast<size_t>('a' + c)] |= kTargetByte | kPathByte | kTokenByte;
    t[static_cast<size_t>('A' + c)] |= kTargetByte | kPathByte | kTokenByte;
  }
  for (int c = '0'; c <= '9'; ++c) {
    t[static_cast<size_t>(c)] |= kTargetByte | kPathByte | kTokenByte;
  }
  for (int c = 0; c < 26; ++c) {
    t[static_cast<size_t>('a' + c)] |= kHostByte;
    t[static_cast<size_t>('A' + c)] |= kHostByte;
  }
  for (int c = '0'; c <= '9'; ++c) {
    t[static_cast<size_t>(c)] |= kHostByte;
  }
  mark("-._~!$&'()*+,;=:@/?%", kTargetByte);
  mark("-._~!$&'()*+,;=:@/%", kPathByte);  // a target's bytes before its query
  mark("!#$%&'*+-.^_`|~", kTokenByte);
  mark("-._~%!$&'()*+,;=:[]", kHostByte);  // isHostValue()'s (field_syntax.h)
  return t;
}();

bool is(char c, uint8_t cls) { return (kBytes[static_cast<unsigned char>(c)] & cls) != 0; }

// Every byte of `chars` is of class `cls` in the table.
constexpr bool tableHas(std::string_view chars, uint8_t cls) {
  for (char c : chars) {
    if ((kBytes[static_cast<unsigned char>(c)] & cls) != cls) {
      return false;
    }
  }
  return true;
}
constexpr std::string_view kAlnum =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
// What the SSE2 steps below take without the table is of the same class in the table, so that
// a machine without SSE2 reads heads the same way (the tests run on machines with it).
static_assert(tableHas(kAlnum, kTargetByte | kPathByte | kTokenByte | kHostByte));
static_assert(tableHas("-./_", kTargetByte | kPathByte) && tableHas("-", kTokenByte) &&
              tableHas("-.:", kHostByte));
static_assert(
    tableHas(" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
             "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
             kValueByte));

#ifdef __SSE2__
// Sixteen bytes a step, as picohttpparser reads values: a few compares tell the bytes of a
// class apart instead of a table lookup per byte. An exact test of a class with many
// punctuation characters costs some 30 compares a step, more than the lookups it replaces in
// the short fields of a head, so each step tests the bytes most heads are made of (letters,
// digits and a few others) and the table decides about any other byte. Each function gives
// 0xff for the bytes it takes. The compares are signed: bytes from 0x80 up are negative, below
// every range.

[[gnu::always_inline]] inline __m128i bytesIn(__m128i v, char lo, char hi) {
  return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(static_cast<char>(lo - 1))),
                       _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(hi + 1))));
}
[[gnu::always_inline]] inline __m128i either(__m128i a, __m128i b) { return _mm_or_si128(a, b); }
// ASCII letters: setting 0x20 makes an uppercase letter lowercase and no other byte a letter.
[[gnu::always_inline]] inline __m128i letters(__m128i v) {
  return bytesIn(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
}

// Letters, digits and "-./_" (a path).
[[gnu::always_inline]] inline __m128i targetBytes(__m128i v) {
  return either(either(letters(v), bytesIn(v, '0', '9')),
                either(bytesIn(v, '-', '/'), _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));
}
// Letters, digits and '-' (a field name).
[[gnu::always_inline]] inline __m128i tokenBytes(__m128i v) {
  return either(either(letters(v), bytesIn(v, '0', '9')), _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
}
// Letters, digits and "-.:" (a host name or IPv4 address and a port).
[[gnu::always_inline]] inline __m128i hostBytes(__m128i v) {
  return either(letters(v), either(bytesIn(v, '0', ':'), bytesIn(v, '-', '.')));
}
// The whole class: 0x20 to 0x7e.
[[gnu::always_inline]] inline __m128i valueBytes(__m128i v) { return bytesIn(v, 0x20, 0x7e); }

// The bytes of `v` not taken at once, one bit each.
template <uint8_t cls>
[[gnu::always_inline]] inline unsigned others(__m128i v) {
  __m128i taken;
  if constexpr (cls == kTargetByte || cls == kPathByte) {
    taken = targetBytes(v);
  } else if constexpr (cls == kTokenByte) {
    taken = tokenBytes(v);
  } else if constexpr (cls == kHostByte) {
    taken = hostBytes(v);
  } else {
    static_assert(cls == kValueByte);
    taken = valueBytes(v);
  }
  return ~static_cast<unsigned>(_mm_movemask_epi8(taken)) & 0xffff;
}
#endif

// The first byte from `p` that is not of class `cls`, or `end`. `begin` is where the input
// starts: the last step loads the sixteen bytes that end at `end` and ignores those before `p`,
// so that a short rest needs no byte loop either, and nothing outside the input is read.
template <uint8_t cls>
const char* skip(const char* p, [[maybe_unused]] const char* begin, const char* end) {
#ifdef __SSE2__
  if (end - begin >= 16) {
    for (;;) {
      unsigned mask;
      if (end - p >= 16) {
        mask = others<cls>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        if (mask == 0) {
          p += 16;
          continue;
        }
      } else if (p < end) {
        mask = others<cls>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16))) >>
               (16 - (end - p));
        if (mask == 0) {
          return end;
        }
      } else {
        return end;
      }
      p += __builtin_ctz(mask);
      // A byte the step did not take: the table decides.
      if (!is(*p, cls)) {
        return p;
      }
      ++p;
    }
  }
#endif
  while (p < end && is(*p, cls)) {
    ++p;
  }
  return p;
}

// `name` (token characters only) is `lower`, a lowercase name of letters and '-', ignoring
// case: for such bytes c | 0x20 equals a lowercase letter only for that letter in either case,
// and equals '-' only for '-' (or CR, which is no token character). Compared a word at a time,
// the last word overlapping the one before it; names of fewer than 4 bytes are never asked for.
template <size_t N>
bool named(std::string_view name, const char (&lower)[N]) {
  constexpr size_t n = N - 1;
  static_assert(n >= 4);
  using Word = std::conditional_t<(n >= 8), uint64_t, uint32_t>;
  constexpr auto kFold = static_cast<Word>(0x2020202020202020ULL);
  if (name.size() != n) {
    return false;
  }
  for (size_t i = 0;; i += sizeof(Word)) {
    const size_t at = std::min(i, n - sizeof(Word));
    Word a;
    Word b;
    std::memcpy(&a, name.data() + at, sizeof(Word));
    std::memcpy(&b, lower + at, sizeof(Word));
    if ((a | kFold) != b) {
      return false;
    }
    if (at == n - sizeof(Word)) {
      return true;
    }
  }
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
  p = skip<kPathByte>(p, in.data(), end);
  const auto path_size = static_cast<size_t>(p - target);
  if (p < end && *p == '?') {
    p = skip<kTargetByte>(p + 1, in.data(), end);
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
    p = skip<kTokenByte>(p, in.data(), end);
    if (p == name || end - p < 3 || p[0] != ':' || p[1] != ' ') {
      return false;
    }
    const std::string_view name_view(name, static_cast<size_t>(p - name));
    p += 2;
    const char* const value = p;
    p = skip<kValueByte>(p, in.data(), end);
    // No whitespace to trim on either side: the value is the bytes sent.
    if (p == value || end - p < 2 || p[0] != '\r' || p[1] != '\n' || value[0] == ' ' ||
        p[-1] == ' ') {
      return false;
    }
    const char* const value_end = p;
    p += 2;
    if (++count > limits.max_headers) {
      return false;
    }
    switch (classify(name_view)) {
      case Name::kPlain:
        break;
      case Name::kHost:
        // isHostValue(), sixteen bytes a step: the CR ends the value, and no host byte.
        if (++hosts > 1 || skip<kHostByte>(value, in.data(), end) != value_end) {
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
  out->path_size = path_size;
  out->headers = std::string_view(fields, static_cast<size_t>(p - fields));
  return true;
}

}  // namespace portd::handlers::http
