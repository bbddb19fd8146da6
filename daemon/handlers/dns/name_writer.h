#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "handlers/dns/wire.h"

// Writing a DNS message with name compression (RFC 1035 4.1.4) into a fixed buffer: every name
// written is remembered by the offsets of its labels, and a later name that ends with one of
// them is written as its own first labels and a pointer. Nothing allocates; a write that does
// not fit sets overflow() and leaves the buffer as it was before that write's start.
namespace portd::handlers::dns {

class MessageWriter {
 public:
  // Offsets remembered for compression; names written after that many are written whole.
  static constexpr size_t kMaxTargets = 64;

  MessageWriter(uint8_t* buf, size_t limit) : buf_(buf), limit_(limit) {}

  size_t size() const { return pos_; }
  uint8_t* data() { return buf_; }
  // Shrinks the room left (for an OPT record that must still fit) or gives it back.
  void setLimit(size_t limit) { limit_ = limit; }
  // Goes back to `pos`, forgetting compression targets at or past it.
  void rewind(size_t pos);

  bool put(const void* p, size_t n) {
    if (limit_ - pos_ < n || pos_ > limit_) {
      return false;
    }
    std::memcpy(buf_ + pos_, p, n);
    pos_ += n;
    return true;
  }
  bool put16(uint16_t v) {
    uint8_t b[2];
    dns::put16(b, v);
    return put(b, 2);
  }
  bool put32(uint32_t v) {
    uint8_t b[4];
    dns::put32(b, v);
    return put(b, 4);
  }

  // Writes the uncompressed wire-form name compressed, or whole when `compress` is false (as
  // SRV targets must be, RFC 2782). Either way its labels become targets for later names.
  bool putName(const uint8_t* name, size_t len, bool compress = true);

 private:
  // Whether the name in the message at `off` (pointers followed) equals `name`, ignoring case.
  bool sameName(size_t off, const uint8_t* name) const;
  void remember(size_t off);

  uint8_t* buf_;
  size_t limit_;
  size_t pos_ = 0;
  uint16_t targets_[kMaxTargets];
  size_t target_count_ = 0;
};

}  // namespace portd::handlers::dns
