#pragma once

#include <cstdint>
#include <string>

#include "load/codec.h"

namespace portd::load {

// tcp:// and udp:// with --format sockperf: the messages sockperf's client sends, so that
// sockperf's own server (`sockperf server`) can be a target. Each message starts with a
// 14-byte header in network byte order, the rest is padding up to the message size:
//
//   0  sequence number   8 bytes
//   8  flags             2 bytes: 1 = from a client, 2 = answer wanted (a "pong request")
//  10  message length    4 bytes, header included
//
// The server answers a message with flags 3 by sending it back with flags 2 (the client bit
// cleared); it answers nothing else. Over TCP the length frames the messages.
inline constexpr size_t kSockperfHeader = 14;
inline constexpr uint16_t kSockperfClient = 1;
inline constexpr uint16_t kSockperfPongRequest = 2;

// Writes a request header for message `seq` of `size` bytes into out[0..14).
void writeSockperfHeader(char* out, uint64_t seq, uint16_t flags, uint32_t size);
// Reads a header; false when `in` is shorter than one.
bool readSockperfHeader(std::string_view in, uint64_t* seq, uint16_t* flags, uint32_t* size);

class SockperfDatagramCodec final : public DatagramCodec {
 public:
  explicit SockperfDatagramCodec(size_t size)
      : size_(size < kSockperfHeader ? kSockperfHeader : size) {}
  size_t request(char* buf, size_t capacity, uint64_t seq, uint64_t intended_ns,
                 uint64_t sent_ns) override;
  // An answer is the request's header with only the pong bit set, and the same length.
  bool answer(std::string_view in, uint64_t* seq, int* status) override;

 private:
  size_t size_;
};

class SockperfCodec final : public Codec {
 public:
  explicit SockperfCodec(size_t size);

  void request(std::string& out) override;
  Read read(std::string_view in, ResponseSink& sink) override;
  void reset() override;

 private:
  size_t size_;
  std::string padding_;
  uint64_t next_sent_ = 0;
  uint64_t next_answer_ = 0;
  char header_[kSockperfHeader] = {};
  size_t offset_ = 0;  // into the answer being read
};

}  // namespace portd::load
