#include "handlers/dns/name_writer.h"

namespace portd::handlers::dns {

void MessageWriter::rewind(size_t pos) {
  pos_ = pos;
  while (target_count_ > 0 && targets_[target_count_ - 1] >= pos) {
    --target_count_;
  }
}

void MessageWriter::remember(size_t off) {
  // A pointer holds 14 bits of offset.
  if (target_count_ < kMaxTargets && off < 0x4000) {
    targets_[target_count_++] = static_cast<uint16_t>(off);
  }
}

bool MessageWriter::sameName(size_t off, const uint8_t* name) const {
  // The message holds only what this writer put there: pointers go backwards, so this ends.
  while (true) {
    uint8_t len = buf_[off];
    if ((len & 0xC0) == 0xC0) {
      off = static_cast<size_t>(len & 0x3F) << 8 | buf_[off + 1];
      continue;
    }
    if (len != *name) {
      return false;
    }
    if (len == 0) {
      return true;
    }
    for (size_t i = 1; i <= len; ++i) {
      if (lowerAscii(buf_[off + i]) != lowerAscii(name[i])) {
        return false;
      }
    }
    off += 1 + len;
    name += 1 + len;
  }
}

bool MessageWriter::putName(const uint8_t* name, size_t len, bool compress) {
  const size_t start = pos_;
  size_t s = 0;
  size_t match = SIZE_MAX;
  if (compress) {
    // The longest suffix already in the message: try suffixes from the whole name down.
    for (; s < len && name[s] != 0 && match == SIZE_MAX; s += 1 + name[s]) {
      for (size_t t = 0; t < target_count_; ++t) {
        if (sameName(targets_[t], name + s)) {
          match = targets_[t];
          break;
        }
      }
      if (match != SIZE_MAX) {
        break;
      }
    }
  }
  const size_t raw = match == SIZE_MAX ? len : s;
  if (!put(name, raw) || (match != SIZE_MAX && !put16(static_cast<uint16_t>(0xC000 | match)))) {
    rewind(start);
    return false;
  }
  for (size_t l = 0; l < raw && name[l] != 0; l += 1 + name[l]) {
    remember(start + l);
  }
  return true;
}

}  // namespace portd::handlers::dns
