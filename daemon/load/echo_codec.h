#pragma once

#include <cstdint>
#include <string>

#include "load/codec.h"

namespace portd::load {

// tcp://: each request is `size` bytes, its first eight the request's number on the
// connection (little-endian) and the rest a fixed pattern; the target must send every byte
// back. An answer is complete after `size` bytes, and each byte is checked against what was
// sent, so that a lost, reordered or altered byte shows as a mismatch.
class EchoCodec final : public Codec {
 public:
  explicit EchoCodec(size_t size);

  void request(std::string& out) override;
  Read read(std::string_view in, ResponseSink& sink) override;
  void reset() override;

 private:
  // The byte at `pos` of request `seq`.
  char expected(uint64_t seq, size_t pos) const;

  size_t size_;
  std::string pattern_;
  uint64_t next_sent_ = 0;
  uint64_t next_answer_ = 0;
  size_t offset_ = 0;  // into the answer being read
};

}  // namespace portd::load
