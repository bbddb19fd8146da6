// The stream handler's messages (docs/stream.md), as a test client writes and reads them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "child_process.h"

namespace portd::itest {

inline void putBe(std::string& s, size_t at, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    s[at + n - 1 - i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

inline uint64_t getBe(std::string_view s, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  }
  return v;
}

// A stream message: "PDST", version 1, flags, 2 reserved bytes, sequence number, send time in
// ns, padding to `size`.
inline std::string streamMessage(uint64_t seq, size_t size = 64, uint8_t flags = 0) {
  std::string m(size, 'p');
  m.replace(0, 4, "PDST");
  m[4] = 1;
  m[5] = static_cast<char>(flags);
  m[6] = m[7] = 0;
  putBe(m, 8, seq, 8);
  putBe(m, 16, static_cast<uint64_t>(Clock::now().time_since_epoch().count()), 8);
  return m;
}

// The message with its 4-byte length before it, as it goes over TCP.
inline std::string framed(const std::string& m) {
  std::string f(4, '\0');
  putBe(f, 0, m.size(), 4);
  return f + m;
}

// A daemon with one listener "stream" of the stream handler, its options given as TOML lines,
// and an admin endpoint; logging at info, where the per-peer reports are.
inline std::string streamConfig(const std::string& protocol, const std::string& options,
                                int workers = 1) {
  return "[server]\nworkers = " + std::to_string(workers) +
         "\n[log]\nlevel = \"info\"\n[admin]\naddress = \"127.0.0.1:0\"\n"
         "[[listener]]\nname = \"stream\"\nprotocol = \"" +
         protocol + "\"\naddress = \"127.0.0.1:0\"\nhandler = \"stream\"\n[listener.options]\n" +
         options;
}

}  // namespace portd::itest
