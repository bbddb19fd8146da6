#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <bitset>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/listener_settings.h"

namespace portd::net {

// Why a UDP listener drops a datagram before its handler sees it.
enum class Refusal { kNone, kOwnAddress, kBlockedPort };

// Decides, per received datagram, whether it may reach the handler at all. A datagram whose
// source is the listener itself (one of this host's addresses, with the listener's port) would
// have its answer delivered straight back to the listener, which would answer that too,
// forever; one from a blocked source port (a service that answers anything, such as another
// echo) could start the same loop between two hosts. Both are dropped.
//
// The host's addresses are read once, when the socket is opened (getifaddrs), so that the
// check per datagram is a port comparison and, only for a datagram from the listener's own
// port, a scan of a short list; no system call and no allocation. Loopback, the unspecified
// address (which Linux delivers locally) and the bound address always count as local; an
// address added to an interface later counts from the next reload.
class SourceFilter {
 public:
  SourceFilter() = default;
  explicit SourceFilter(const std::vector<uint16_t>& blocked_ports);

  // Takes the listener's bound address (getsockname) and this host's current addresses.
  void bind(const sockaddr* local);

  Refusal check(const sockaddr* source) const {
    uint16_t port_n;  // network byte order, compared as is
    if (source->sa_family == AF_INET) {
      port_n = reinterpret_cast<const sockaddr_in*>(source)->sin_port;
    } else if (source->sa_family == AF_INET6) {
      port_n = reinterpret_cast<const sockaddr_in6*>(source)->sin6_port;
    } else {
      return Refusal::kNone;
    }
    if (port_n == own_port_n_ && isLocal(source)) {
      return Refusal::kOwnAddress;
    }
    if (any_blocked_ && blocked_.test(ntohs(port_n))) {
      return Refusal::kBlockedPort;
    }
    return Refusal::kNone;
  }

  // Whether `source`'s address (not its port) is one of this host's, as bind() saw them.
  bool isLocal(const sockaddr* source) const;

 private:
  bool isLocal4(in_addr_t addr_n) const;

  uint16_t own_port_n_ = 0;  // 0 before bind(): port 0 is no source a reply could reach
  bool any_blocked_ = false;
  std::bitset<65536> blocked_;
  std::vector<in_addr_t> local4_;
  std::vector<in6_addr> local6_;
};

// Caps the replies sent to each source address with a token bucket: `rate` replies per second,
// at most `burst` at once. Buckets are a fixed table of kBuckets slots indexed by a seeded hash
// of the address, made once when the limit is configured, so that memory does not grow with
// the number of sources (spoofed ones included) and a reply costs no allocation. Sources whose
// hashes collide share a slot, and with it their allowance: that can only make the limit
// stricter, so the total reply rate of a socket stays at most kBuckets * rate.
class ReplyLimiter {
 public:
  static constexpr size_t kBuckets = 4096;
  static constexpr uint32_t kMaxRate = 1'000'000;  // also the largest burst

  // rate == 0: no limit, and no table.
  ReplyLimiter(uint32_t rate, uint32_t burst);

  bool enabled() const { return static_cast<bool>(buckets_); }
  // Whether a reply to `peer` may leave at `now_ms` (the loop's clock); takes a token if so.
  bool admit(const sockaddr* peer, uint64_t now_ms);

 private:
  // Tokens are counted in thousandths, so that a refill of `rate` per second is `rate` per
  // millisecond without fractions.
  struct Bucket {
    uint32_t stamp_ms;
    uint32_t milli_tokens;
  };
  size_t slot(const sockaddr* peer) const;

  uint32_t rate_ = 0;
  uint32_t capacity_ = 0;  // burst * 1000
  uint64_t seed_ = 0;
  std::unique_ptr<Bucket[]> buckets_;
};

}  // namespace portd::net
