#include "handlers/dns/rrl.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace portd::handlers::dns {

RateLimiter::RateLimiter(uint32_t rate, uint32_t slip, uint64_t seed)
    : rate_(rate), slip_(slip), seed_(seed | 1) {
  if (rate_ != 0) {
    buckets_ = std::make_unique<Bucket[]>(kBuckets);
  }
}

RateLimiter::Verdict RateLimiter::check(const sockaddr* peer, uint64_t now_ms) {
  uint64_t key = 0;
  if (peer->sa_family == AF_INET) {
    uint32_t a = 0;
    std::memcpy(&a, &reinterpret_cast<const sockaddr_in*>(peer)->sin_addr, 4);
    key = uint64_t{ntohl(a) >> 8} | (uint64_t{4} << 56);
  } else if (peer->sa_family == AF_INET6) {
    const uint8_t* b = reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr.s6_addr;
    for (int i = 0; i < 7; ++i) {
      key = key << 8 | b[i];
    }
    key |= uint64_t{6} << 56;
  }
  // A multiply by a random odd number and the top bits: a universal-enough hash, seeded.
  Bucket& b = buckets_[((key ^ (seed_ >> 7)) * seed_) >> 52];
  const uint64_t capacity = uint64_t{rate_} * 1000;  // one second's worth
  const uint64_t refill = (now_ms - std::min(now_ms, b.last_ms)) * rate_;
  b.tokens = static_cast<uint32_t>(std::min<uint64_t>(capacity, b.tokens + refill));
  if (b.last_ms == 0) {
    b.tokens = static_cast<uint32_t>(capacity);
  }
  b.last_ms = now_ms;
  if (b.tokens >= 1000) {
    b.tokens -= 1000;
    return Verdict::kSend;
  }
  if (slip_ != 0 && ++b.limited % slip_ == 0) {
    return Verdict::kSlip;
  }
  return Verdict::kDrop;
}

}  // namespace portd::handlers::dns
