#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>

// Response rate limiting (as BIND's RRL): answers to one network, a /24 for IPv4 or a /56 for
// IPv6, are limited to `rate` a second, so that a spoofed flood "from" a victim cannot make
// this server send it more than that. Of the answers over the limit, every `slip`th is sent
// truncated (TC=1, no records) instead of dropped: a real client behind the prefix retries
// over TCP, which a spoofer cannot, so it is not locked out. slip 0 drops them all, 1 sends
// them all truncated.
namespace portd::handlers::dns {

class RateLimiter {
 public:
  // A fixed table: 4096 buckets of 16 bytes, made once. Prefixes that hash to one bucket share
  // it, which can only make the limit stricter; the hash is seeded per instance so that
  // nobody can choose prefixes that collide.
  static constexpr size_t kBuckets = 4096;

  enum class Verdict { kSend, kDrop, kSlip };

  RateLimiter(uint32_t rate, uint32_t slip, uint64_t seed);
  bool enabled() const { return rate_ != 0; }
  // One answer to `peer` at `now_ms` (a monotonic clock).
  Verdict check(const sockaddr* peer, uint64_t now_ms);

 private:
  struct Bucket {
    uint64_t last_ms = 0;
    uint32_t tokens = 0;  // in thousandths of an answer
    uint32_t limited = 0;
  };
  uint32_t rate_;
  uint32_t slip_;
  uint64_t seed_;
  std::unique_ptr<Bucket[]> buckets_;
};

}  // namespace portd::handlers::dns
