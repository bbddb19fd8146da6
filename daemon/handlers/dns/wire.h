#pragma once

#include <cstddef>
#include <cstdint>

// DNS wire format constants (RFC 1035, 6891) and big-endian helpers, shared by the parts of
// the dns handler. Nothing here allocates.
namespace portd::handlers::dns {

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxName = 255;  // wire length, root label included (RFC 1035 3.1)
inline constexpr size_t kMaxLabel = 63;  // RFC 1035 2.3.4
inline constexpr size_t kMaxMessage = 65535;
inline constexpr size_t kClassicUdp = 512;  // the payload limit without EDNS (RFC 1035 4.2.1)
inline constexpr size_t kOptSize = 11;      // an OPT record without options

enum Type : uint16_t {
  kA = 1,
  kNS = 2,
  kCNAME = 5,
  kSOA = 6,
  kPTR = 12,
  kMX = 15,
  kTXT = 16,
  kAAAA = 28,
  kSRV = 33,
  kOPT = 41,
  kIXFR = 251,
  kAXFR = 252,
  kMAILB = 253,
  kMAILA = 254,
  kANY = 255,
};

inline constexpr uint16_t kClassIN = 1;
inline constexpr uint16_t kClassANY = 255;

enum Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};
// Extended RCODE (RFC 6891 6.1.3): 16 is BADVERS, its upper 8 bits (1) go in the OPT record.
inline constexpr uint16_t kBadVers = 16;

// Header flag bits, in the 16-bit word that follows the ID.
inline constexpr uint16_t kFlagQR = 0x8000;
inline constexpr uint16_t kFlagAA = 0x0400;
inline constexpr uint16_t kFlagTC = 0x0200;
inline constexpr uint16_t kFlagRD = 0x0100;
inline constexpr uint16_t kFlagCD = 0x0010;

inline uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

inline uint8_t lowerAscii(uint8_t c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

}  // namespace portd::handlers::dns
