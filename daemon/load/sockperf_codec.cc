#include "load/sockperf_codec.h"

#include <algorithm>
#include <cstring>

#include "load/big_endian.h"

namespace portd::load {

namespace {

constexpr uint16_t kRequestFlags = kSockperfClient | kSockperfPongRequest;

}  // namespace

void writeSockperfHeader(char* out, uint64_t seq, uint16_t flags, uint32_t size) {
  putBig(out, seq, 8);
  putBig(out + 8, flags, 2);
  putBig(out + 10, size, 4);
}

bool readSockperfHeader(std::string_view in, uint64_t* seq, uint16_t* flags, uint32_t* size) {
  if (in.size() < kSockperfHeader) {
    return false;
  }
  *seq = getBig(in.data(), 8);
  *flags = static_cast<uint16_t>(getBig(in.data() + 8, 2));
  *size = static_cast<uint32_t>(getBig(in.data() + 10, 4));
  return true;
}

size_t SockperfDatagramCodec::request(char* buf, size_t capacity, uint64_t seq, uint64_t,
                                      uint64_t) {
  if (capacity < kSockperfHeader) {
    return 0;
  }
  const size_t n = std::min(size_, capacity);
  // The padding is whatever the buffer held: only the header is read back.
  writeSockperfHeader(buf, seq, kRequestFlags, static_cast<uint32_t>(n));
  return n;
}

bool SockperfDatagramCodec::answer(std::string_view in, uint64_t* seq, int* status) {
  uint16_t flags = 0;
  uint32_t size = 0;
  if (!readSockperfHeader(in, seq, &flags, &size) || flags != kSockperfPongRequest ||
      size != in.size()) {
    return false;
  }
  *status = 0;
  return true;
}

SockperfCodec::SockperfCodec(size_t size)
    : size_(std::max(size, kSockperfHeader)), padding_(size_ - kSockperfHeader, 'x') {}

void SockperfCodec::reset() {
  next_sent_ = 0;
  next_answer_ = 0;
  offset_ = 0;
}

void SockperfCodec::request(std::string& out) {
  char header[kSockperfHeader];
  writeSockperfHeader(header, next_sent_++, kRequestFlags, static_cast<uint32_t>(size_));
  out.append(header, kSockperfHeader);
  out += padding_;
}

Codec::Read SockperfCodec::read(std::string_view in, ResponseSink& sink) {
  while (!in.empty()) {
    if (next_answer_ == next_sent_) {
      return Read::kMalformed;  // bytes nobody asked for
    }
    if (offset_ == 0) {
      sink.onFirstByte();
    }
    if (offset_ < kSockperfHeader) {
      const size_t n = std::min(in.size(), kSockperfHeader - offset_);
      std::memcpy(header_ + offset_, in.data(), n);
      in.remove_prefix(n);
      offset_ += n;
      if (offset_ < kSockperfHeader) {
        break;
      }
      uint64_t seq = 0;
      uint16_t flags = 0;
      uint32_t size = 0;
      readSockperfHeader(std::string_view(header_, kSockperfHeader), &seq, &flags, &size);
      // Answers come in order on a stream, each as long as its request.
      if (seq != next_answer_ || flags != kSockperfPongRequest || size != size_) {
        return Read::kMismatch;
      }
    }
    // The padding is not checked: sockperf's server sends back what it got, and TCP delivers
    // it intact; the header says which request it answers.
    const size_t n = std::min(in.size(), size_ - offset_);
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
