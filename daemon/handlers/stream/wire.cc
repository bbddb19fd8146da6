#include "handlers/stream/wire.h"

namespace portd::handlers::stream {

namespace {
constexpr char kMagic[4] = {'P', 'D', 'S', 'T'};
}

bool decodeHeader(std::string_view data, Header* out) {
  if (data.size() < kHeaderSize || data.substr(0, 4) != std::string_view(kMagic, 4) ||
      static_cast<uint8_t>(data[4]) != kVersion) {
    return false;
  }
  out->flags = static_cast<uint8_t>(data[5]);
  out->seq = loadBe(data.data() + 8, 8);
  out->send_ns = loadBe(data.data() + 16, 8);
  return true;
}

void encodeHeader(const Header& h, char* out) {
  for (size_t i = 0; i < 4; ++i) {
    out[i] = kMagic[i];
  }
  out[4] = static_cast<char>(kVersion);
  out[5] = static_cast<char>(h.flags);
  out[6] = 0;
  out[7] = 0;
  storeBe(out + 8, h.seq, 8);
  storeBe(out + 16, h.send_ns, 8);
}

Frame nextStreamFrame(std::string_view data) {
  if (data.size() < kLengthPrefix) {
    return {};
  }
  const uint64_t len = loadBe(data.data(), kLengthPrefix);
  if (len < kHeaderSize || len > kMaxMessage) {
    return {Frame::Kind::kInvalid, 0};
  }
  const size_t total = kLengthPrefix + static_cast<size_t>(len);
  if (data.size() < total) {
    return {};
  }
  return {Frame::Kind::kMessage, total};
}

Frame nextSockperfFrame(std::string_view data) {
  if (data.size() < kSockperfHeader) {
    return {};
  }
  const uint64_t len = loadBe(data.data() + 10, 4);
  if (len < kSockperfHeader || len > kMaxMessage) {
    return {Frame::Kind::kInvalid, 0};
  }
  if (data.size() < len) {
    return {};
  }
  return {Frame::Kind::kMessage, static_cast<size_t>(len)};
}

}  // namespace portd::handlers::stream
