#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace portd::load {

// stream:// and stream+tcp://: the message format of portd's stream handler, declared here
// from its documentation (docs/stream.md) rather than taken from the handler, so that what the
// generator measures does not depend on how portd serves. Big-endian:
//
//   0  magic "PDST"           4 bytes
//   4  version (1)            1 byte
//   5  flags                  1 byte: 1 echo, 2 subscribe, 4 unsubscribe, 8 challenge
//   6  reserved (0)           2 bytes
//   8  sequence number        8 bytes, from 0 (a challenge: the cookie to send back)
//  16  send time, ns          8 bytes, the sender's clock (only differences are used)
//  24  padding up to the message size
//
// Over TCP each message follows its length (header included, not the 4 bytes themselves),
// 4 bytes big-endian, from 24 to 65536.
inline constexpr size_t kStreamHeader = 24;
inline constexpr size_t kStreamLengthPrefix = 4;
inline constexpr size_t kStreamMaxMessage = 65536;
inline constexpr uint8_t kStreamEcho = 1;
inline constexpr uint8_t kStreamSubscribe = 2;
inline constexpr uint8_t kStreamUnsubscribe = 4;
inline constexpr uint8_t kStreamChallenge = 8;

struct StreamHeader {
  uint8_t flags = 0;
  uint64_t seq = 0;
  uint64_t send_ns = 0;
};

// Writes kStreamHeader bytes at `out`.
void writeStreamHeader(char* out, const StreamHeader& h);
// False when `in` is shorter than a header or lacks the magic and version 1.
bool readStreamHeader(std::string_view in, StreamHeader* h);
// Writes the 4-byte length of a message of `size` bytes at `out`.
void writeStreamLength(char* out, uint32_t size);

// Cuts a TCP byte stream into messages, however it arrives split, keeping only what it needs
// (the length and the header: 28 bytes); the padding is skipped, never copied.
class StreamFrameReader {
 public:
  enum class Event { kNeedMore, kMessage, kBadLength };

  // Consumes bytes of `*in` up to the end of the next message at most. kMessage: `*header`
  // is that message's first 24 bytes (valid until the next call), `*size` its length. After
  // kBadLength the stream cannot be cut any more: the caller drops it.
  Event next(std::string_view* in, std::string_view* header, uint32_t* size);
  // Whether no message is begun (the next byte starts one).
  bool atBoundary() const { return pos_ == 0; }
  void reset() { pos_ = 0; }

 private:
  char head_[kStreamLengthPrefix + kStreamHeader] = {};
  size_t pos_ = 0;     // bytes of the current frame consumed, the length prefix included
  uint32_t size_ = 0;  // the current message's length, once its prefix is read
};

}  // namespace portd::load
