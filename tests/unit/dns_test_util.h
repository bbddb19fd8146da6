#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// Small helpers to write DNS queries byte by byte in the dns handler's unit tests.
namespace portd::handlers::dns::test {

inline std::string u16(uint16_t v) {
  return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
}

// "www.example.com" in wire form.
inline std::string wireName(std::string_view dotted) {
  std::string out;
  while (!dotted.empty()) {
    const size_t dot = dotted.find('.');
    const std::string_view label = dotted.substr(0, dot);
    out.push_back(static_cast<char>(label.size()));
    out += label;
    dotted.remove_prefix(dot == std::string_view::npos ? dotted.size() : dot + 1);
  }
  out.push_back('\0');
  return out;
}

// A query as dig sends it: ID 0x1234, RD, one question, and an OPT record when payload != 0.
inline std::string query(std::string_view name, uint16_t type, uint16_t payload = 0,
                         uint16_t flags = 0x0100, uint16_t qclass = 1) {
  std::string q = u16(0x1234) + u16(flags) + u16(1) + u16(0) + u16(0) + u16(payload ? 1 : 0);
  q += wireName(name) + u16(type) + u16(qclass);
  if (payload != 0) {
    q += std::string(1, '\0') + u16(41) + u16(payload) + std::string(4, '\0') + u16(0);
  }
  return q;
}

}  // namespace portd::handlers::dns::test
