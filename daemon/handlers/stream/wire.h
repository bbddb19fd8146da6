#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

// The two message formats the stream handler reads: its own (a sequence number and a send
// timestamp at the start of each datagram, modelled on iperf3's UDP layout) and sockperf's.
// Both are big-endian. See docs/stream.md.
namespace portd::handlers::stream {

inline uint64_t loadBe(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

inline void storeBe(char* p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    p[n - 1 - i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

// "PDST", version, flags, 2 reserved bytes, sequence number, send time in ns.
constexpr size_t kHeaderSize = 24;
constexpr uint8_t kVersion = 1;
constexpr uint8_t kFlagEcho = 1;         // send this datagram back unchanged
constexpr uint8_t kFlagSubscribe = 2;    // source mode, UDP: start sending to me
constexpr uint8_t kFlagUnsubscribe = 4;  // source mode, UDP: stop sending to me
constexpr uint8_t kFlagChallenge = 8;    // source mode, UDP, from portd: subscribe again with
                                         // this sequence number (a cookie, cookie.h)

struct Header {
  uint8_t flags = 0;
  uint64_t seq = 0;
  uint64_t send_ns = 0;
};

// False when `data` is shorter than a header or does not start with the magic and version 1.
bool decodeHeader(std::string_view data, Header* out);
// Writes kHeaderSize bytes at `out` (reserved bytes zero).
void encodeHeader(const Header& h, char* out);

// Largest message either format accepts: what one UDP datagram can carry, rounded up.
constexpr size_t kMaxMessage = 65536;

// Where the first message of a TCP byte stream ends.
struct Frame {
  enum class Kind { kMessage, kNeedMore, kInvalid };
  Kind kind = Kind::kNeedMore;
  size_t size = 0;  // kMessage: bytes of the whole frame (length prefix included)
};

// Over TCP the stream format puts a 4-byte big-endian length (of the message after it, header
// included) before each message: kInvalid when it is below kHeaderSize or above kMaxMessage.
constexpr size_t kLengthPrefix = 4;
Frame nextStreamFrame(std::string_view data);

// sockperf 3.7: sequence number (8 bytes), flags (2), length of the message, header included
// (4). Over TCP the length frames the messages; kInvalid when it is below the header's size or
// above kMaxMessage.
constexpr size_t kSockperfHeader = 14;
constexpr uint16_t kSockperfClient = 1;
constexpr uint16_t kSockperfPongRequest = 2;
constexpr uint16_t kSockperfWarmup = 4;
constexpr size_t kSockperfFlagsAt = 8;
Frame nextSockperfFrame(std::string_view data);

// Whether sockperf's own server answers a message with these flags: one from a client that
// asks for an answer and is not a warm-up message (checked against sockperf 3.7's server).
inline bool sockperfWantsAnswer(uint16_t flags) {
  return (flags & kSockperfClient) != 0 && (flags & kSockperfPongRequest) != 0 &&
         (flags & kSockperfWarmup) == 0;
}
// The flags of the answer: the client bit cleared, the rest unchanged.
inline uint16_t sockperfAnswerFlags(uint16_t flags) {
  return static_cast<uint16_t>(flags & ~kSockperfClient);
}

}  // namespace portd::handlers::stream
