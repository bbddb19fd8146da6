#include "handlers/stream/address_index.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace portd::handlers::stream {

bool keyOf(const sockaddr* sa, PeerKey* out) {
  *out = PeerKey{};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(out->addr.data(), &in->sin_addr, sizeof in->sin_addr);
    out->port = in->sin_port;
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::memcpy(out->addr.data(), &in6->sin6_addr, sizeof in6->sin6_addr);
    out->port = in6->sin6_port;
  } else {
    return false;
  }
  out->family = sa->sa_family;
  return true;
}

size_t formatPeer(const sockaddr* sa, char (&out)[kPeerNameMax]) {
  char host[INET6_ADDRSTRLEN] = {0};
  int n = 0;
  std::snprintf(out, sizeof out, "(unspecified)");  // for a log line; no label
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    n = std::snprintf(out, sizeof out, "%s:%u", host, static_cast<unsigned>(ntohs(in->sin_port)));
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    n = std::snprintf(out, sizeof out, "[%s]:%u", host,
                      static_cast<unsigned>(ntohs(in6->sin6_port)));
  }
  return n > 0 ? std::min(static_cast<size_t>(n), sizeof out - 1) : 0;
}

AddressIndex::AddressIndex(size_t max_entries) {
  size_t capacity = 16;
  while (capacity < 2 * max_entries) {
    capacity *= 2;
  }
  entries_.resize(capacity);
  mask_ = capacity - 1;
}

size_t AddressIndex::home(const PeerKey& key) const {
  // FNV-1a over the key's bytes: the port alone spreads one host's sockets, the address
  // spreads hosts.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  for (uint8_t b : key.addr) {
    mix(b);
  }
  mix(static_cast<uint8_t>(key.port));
  mix(static_cast<uint8_t>(key.port >> 8));
  mix(static_cast<uint8_t>(key.family));
  return static_cast<size_t>(h ^ (h >> 32)) & mask_;
}

int AddressIndex::find(const PeerKey& key) const {
  for (size_t i = home(key);; i = (i + 1) & mask_) {
    const Entry& e = entries_[i];
    if (e.slot < 0) {
      return -1;
    }
    if (e.key == key) {
      return e.slot;
    }
  }
}

void AddressIndex::insert(const PeerKey& key, int slot) {
  size_t i = home(key);
  while (entries_[i].slot >= 0) {
    i = (i + 1) & mask_;
  }
  entries_[i] = Entry{key, slot};
}

void AddressIndex::erase(const PeerKey& key) {
  size_t i = home(key);
  while (true) {
    if (entries_[i].slot < 0) {
      return;
    }
    if (entries_[i].key == key) {
      break;
    }
    i = (i + 1) & mask_;
  }
  entries_[i].slot = -1;
  // Backward shift: an entry after the hole moves into it unless its home lies cyclically in
  // (hole, entry], where a lookup would still reach it.
  for (size_t j = (i + 1) & mask_; entries_[j].slot >= 0; j = (j + 1) & mask_) {
    const size_t k = home(entries_[j].key);
    const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (!stays) {
      entries_[i] = entries_[j];
      entries_[j].slot = -1;
      i = j;
    }
  }
}

}  // namespace portd::handlers::stream
