#include "load/stream_wire.h"

#include <algorithm>
#include <cstring>

#include "load/big_endian.h"

namespace portd::load {

namespace {

constexpr char kMagic[4] = {'P', 'D', 'S', 'T'};
constexpr size_t kHead = kStreamLengthPrefix + kStreamHeader;

}  // namespace

void writeStreamHeader(char* out, const StreamHeader& h) {
  std::memcpy(out, kMagic, 4);
  out[4] = 1;
  out[5] = static_cast<char>(h.flags);
  out[6] = out[7] = 0;
  putBig(out + 8, h.seq, 8);
  putBig(out + 16, h.send_ns, 8);
}

bool readStreamHeader(std::string_view in, StreamHeader* h) {
  if (in.size() < kStreamHeader || std::memcmp(in.data(), kMagic, 4) != 0 || in[4] != 1) {
    return false;
  }
  h->flags = static_cast<uint8_t>(in[5]);
  h->seq = getBig(in.data() + 8, 8);
  h->send_ns = getBig(in.data() + 16, 8);
  return true;
}

void writeStreamLength(char* out, uint32_t size) { putBig(out, size, 4); }

StreamFrameReader::Event StreamFrameReader::next(std::string_view* in, std::string_view* header,
                                                 uint32_t* size) {
  while (!in->empty()) {
    if (pos_ < kHead) {
      // The length and the header are kept, wherever the reads cut them.
      const size_t n = std::min(in->size(), kHead - pos_);
      std::memcpy(head_ + pos_, in->data(), n);
      const bool had_length = pos_ >= kStreamLengthPrefix;
      pos_ += n;
      in->remove_prefix(n);
      if (!had_length && pos_ >= kStreamLengthPrefix) {
        const uint64_t len = getBig(head_, 4);
        if (len < kStreamHeader || len > kStreamMaxMessage) {
          return Event::kBadLength;
        }
        size_ = static_cast<uint32_t>(len);
      }
      if (pos_ < kHead) {
        continue;
      }
    }
    const size_t end = kStreamLengthPrefix + size_;
    const size_t skip = std::min(in->size(), end - pos_);
    in->remove_prefix(skip);
    pos_ += skip;
    if (pos_ == end) {
      pos_ = 0;
      *header = std::string_view(head_ + kStreamLengthPrefix, kStreamHeader);
      *size = size_;
      return Event::kMessage;
    }
  }
  return Event::kNeedMore;
}

}  // namespace portd::load
