#include "net/datagram_guard.h"

#include <arpa/inet.h>
#include <ifaddrs.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace portd::net {

namespace {

bool sameAddress(const in6_addr& a, const in6_addr& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), in network order.
in_addr_t mappedV4(const in6_addr& a) {
  in_addr_t v4;
  std::memcpy(&v4, &a.s6_addr[12], sizeof v4);
  return v4;
}

uint64_t mix(uint64_t x) {
  // The finaliser of MurmurHash3: every input bit reaches every output bit.
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace

SourceFilter::SourceFilter(const std::vector<uint16_t>& blocked_ports) {
  for (uint16_t p : blocked_ports) {
    blocked_.set(p);
  }
  any_blocked_ = blocked_.any();
}

void SourceFilter::bind(const sockaddr* local) {
  local4_.clear();
  local6_.clear();
  if (local->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(local);
    own_port_n_ = in->sin_port;
    local4_.push_back(in->sin_addr.s_addr);
  } else if (local->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(local);
    own_port_n_ = in6->sin6_port;
    local6_.push_back(in6->sin6_addr);
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr) {
        continue;
      }
      if (i->ifa_addr->sa_family == AF_INET) {
        local4_.push_back(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr);
      } else if (i->ifa_addr->sa_family == AF_INET6) {
        local6_.push_back(reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr);
      }
    }
    ::freeifaddrs(list);
  }
}

bool SourceFilter::isLocal4(in_addr_t addr_n) const {
  // 127.0.0.0/8 is loopback, and Linux delivers 0.0.0.0 to this host.
  const uint32_t host = ntohl(addr_n);
  if ((host >> 24) == 127 || host == 0) {
    return true;
  }
  return std::find(local4_.begin(), local4_.end(), addr_n) != local4_.end();
}

bool SourceFilter::isLocal(const sockaddr* source) const {
  if (source->sa_family == AF_INET) {
    return isLocal4(reinterpret_cast<const sockaddr_in*>(source)->sin_addr.s_addr);
  }
  if (source->sa_family != AF_INET6) {
    return false;
  }
  const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(source)->sin6_addr;
  // A dual-stack socket sees IPv4 peers as ::ffff:a.b.c.d.
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    return isLocal4(mappedV4(a));
  }
  if (IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_UNSPECIFIED(&a)) {
    return true;
  }
  return std::any_of(local6_.begin(), local6_.end(),
                     [&](const in6_addr& l) { return sameAddress(l, a); });
}

ReplyLimiter::ReplyLimiter(uint32_t rate, uint32_t burst) {
  if (rate == 0) {
    return;
  }
  rate_ = std::min(rate, kMaxRate);
  capacity_ = std::clamp<uint32_t>(burst, 1, kMaxRate) * 1000;
  // A seed of its own per socket, so that nobody can choose addresses that all fall into one
  // slot of every portd.
  std::random_device random;
  seed_ = (static_cast<uint64_t>(random()) << 32) ^ random();
  // Full buckets: a source not heard from yet may have its burst. Their time stamps do not
  // matter, since a refill cannot take a full bucket past its size.
  buckets_ = std::make_unique<Bucket[]>(kBuckets);
  std::fill_n(buckets_.get(), kBuckets, Bucket{0, capacity_});
}

size_t ReplyLimiter::slot(const sockaddr* peer) const {
  uint64_t key = seed_;
  if (peer->sa_family == AF_INET) {
    key ^= reinterpret_cast<const sockaddr_in*>(peer)->sin_addr.s_addr;
  } else if (peer->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      key ^= mappedV4(a);  // the same client as over IPv4
    } else {
      uint64_t hi, lo;
      std::memcpy(&hi, &a.s6_addr[0], sizeof hi);
      std::memcpy(&lo, &a.s6_addr[8], sizeof lo);
      key = mix(key ^ hi) ^ lo;
    }
  }
  return static_cast<size_t>(mix(key) & (kBuckets - 1));
}

bool ReplyLimiter::admit(const sockaddr* peer, uint64_t now_ms) {
  const auto now = static_cast<uint32_t>(now_ms);  // differences survive the wrap-around
  Bucket& b = buckets_[slot(peer)];
  const uint64_t refill = static_cast<uint64_t>(now - b.stamp_ms) * rate_;
  b.milli_tokens =
      static_cast<uint32_t>(std::min<uint64_t>(capacity_, uint64_t{b.milli_tokens} + refill));
  b.stamp_ms = now;
  if (b.milli_tokens < 1000) {
    return false;
  }
  b.milli_tokens -= 1000;
  return true;
}

}  // namespace portd::net
