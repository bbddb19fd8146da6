#include "load/echo_codec.h"

#include <algorithm>
#include <cstring>

namespace portd::load {

EchoCodec::EchoCodec(size_t size) : size_(std::max<size_t>(size, 1)) {
  pattern_.resize(size_);
  for (size_t i = 0; i < size_; ++i) {
    pattern_[i] = static_cast<char>('a' + i % 26);
  }
}

void EchoCodec::reset() {
  next_sent_ = 0;
  next_answer_ = 0;
  offset_ = 0;
}

char EchoCodec::expected(uint64_t seq, size_t pos) const {
  return pos < 8 ? static_cast<char>((seq >> (8 * pos)) & 0xff) : pattern_[pos];
}

void EchoCodec::request(std::string& out) {
  const size_t at = out.size();
  out += pattern_;
  for (size_t i = 0; i < 8 && i < size_; ++i) {
    out[at + i] = expected(next_sent_, i);
  }
  ++next_sent_;
}

Codec::Read EchoCodec::read(std::string_view in, ResponseSink& sink) {
  while (!in.empty()) {
    if (next_answer_ == next_sent_) {
      return Read::kMalformed;  // bytes nobody asked for
    }
    if (offset_ == 0) {
      sink.onFirstByte();
    }
    // The sequence number, byte by byte; the pattern, in one comparison.
    while (offset_ < 8 && offset_ < size_ && !in.empty()) {
      if (in.front() != expected(next_answer_, offset_)) {
        return Read::kMismatch;
      }
      in.remove_prefix(1);
      ++offset_;
    }
    const size_t n = std::min(in.size(), size_ - offset_);
    if (n > 0 && std::memcmp(in.data(), pattern_.data() + offset_, n) != 0) {
      return Read::kMismatch;
    }
    in.remove_prefix(n);
    offset_ += n;
    if (offset_ == size_) {
      offset_ = 0;
      ++next_answer_;
      sink.onResponse(0);
    }
  }
  return Read::kOk;
}

}  // namespace portd::load
