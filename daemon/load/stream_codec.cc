#include "load/stream_codec.h"

#include <algorithm>
#include <chrono>

namespace portd::load {

namespace {

uint64_t monotonicNs() {
  // steady_clock is CLOCK_MONOTONIC, the clock of uv_hrtime() and of portd's handlers.
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

size_t StreamDatagramCodec::request(char* buf, size_t capacity, uint64_t seq, uint64_t,
                                    uint64_t sent_ns) {
  if (capacity < kStreamHeader) {
    return 0;
  }
  // The padding is whatever the buffer held: only the header is read back.
  writeStreamHeader(buf, StreamHeader{kStreamEcho, seq, sent_ns});
  return std::min(size_, capacity);
}

bool StreamDatagramCodec::answer(std::string_view in, uint64_t* seq, int* status) {
  StreamHeader h;
  // An echo is the datagram as sent: the echo flag and nothing else, every byte of it.
  if (!readStreamHeader(in, &h) || h.flags != kStreamEcho || in.size() != size_) {
    return false;
  }
  *seq = h.seq;
  *status = 0;
  return true;
}

StreamCodec::StreamCodec(size_t size)
    : size_(std::clamp(size, kStreamHeader, kStreamMaxMessage)),
      padding_(size_ - kStreamHeader, 'p') {}

void StreamCodec::reset() {
  next_sent_ = 0;
  next_answer_ = 0;
  reader_.reset();
}

void StreamCodec::request(std::string& out) {
  char head[kStreamLengthPrefix + kStreamHeader];
  writeStreamLength(head, static_cast<uint32_t>(size_));
  writeStreamHeader(head + kStreamLengthPrefix,
                    StreamHeader{kStreamEcho, next_sent_++, monotonicNs()});
  out.append(head, sizeof head);
  out += padding_;
}

Codec::Read StreamCodec::read(std::string_view in, ResponseSink& sink) {
  while (!in.empty()) {
    if (next_answer_ == next_sent_) {
      return Read::kMalformed;  // bytes nobody asked for
    }
    if (reader_.atBoundary()) {
      sink.onFirstByte();
    }
    std::string_view header;
    uint32_t size = 0;
    switch (reader_.next(&in, &header, &size)) {
      case StreamFrameReader::Event::kNeedMore:
        return Read::kOk;
      case StreamFrameReader::Event::kBadLength:
        return Read::kBadFraming;
      case StreamFrameReader::Event::kMessage:
        break;
    }
    StreamHeader h;
    if (!readStreamHeader(header, &h)) {
      return Read::kMalformed;
    }
    // Echoes come in order on a connection, each as long as its message.
    if (h.seq != next_answer_ || h.flags != kStreamEcho || size != size_) {
      return Read::kMismatch;
    }
    ++next_answer_;
    sink.onResponse(0);
  }
  return Read::kOk;
}

}  // namespace portd::load
