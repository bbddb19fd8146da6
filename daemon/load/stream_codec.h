#pragma once

#include <cstdint>
#include <string>

#include "load/codec.h"
#include "load/stream_wire.h"

namespace portd::load {

// stream://: datagrams of `size` bytes (at least the 24-byte header) in the stream format,
// each asking the sink to echo it (flag 1). The answer is the datagram back unchanged. Each
// socket numbers its datagrams from 0 (perSocketSeq()), because the sink accounts each source
// address as a stream of its own.
class StreamDatagramCodec final : public DatagramCodec {
 public:
  explicit StreamDatagramCodec(size_t size) : size_(size < kStreamHeader ? kStreamHeader : size) {}
  size_t request(char* buf, size_t capacity, uint64_t seq, uint64_t intended_ns,
                 uint64_t sent_ns) override;
  bool answer(std::string_view in, uint64_t* seq, int* status) override;
  bool perSocketSeq() const override { return true; }

 private:
  size_t size_;
};

// stream+tcp://: framed messages of `size` bytes (header included) with the echo flag; the
// sink sends each back, framed, in order. An answer with another sequence number, flags or
// length is a mismatch; a length outside 24..65536 is a framing error (the connection cannot
// be read further); a message without the magic and version is malformed. Each connection
// numbers its messages from 0: it is a stream of its own for the sink.
class StreamCodec final : public Codec {
 public:
  explicit StreamCodec(size_t size);

  void request(std::string& out) override;
  Read read(std::string_view in, ResponseSink& sink) override;
  void reset() override;

 private:
  size_t size_;
  std::string padding_;
  uint64_t next_sent_ = 0;
  uint64_t next_answer_ = 0;
  StreamFrameReader reader_;
};

}  // namespace portd::load
