#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace portd::net {

// Open connections per peer IP address, for one listener on one worker: what enforces
// max_connections_per_ip. A fixed table (open addressing, a window of kProbe slots per
// address), so that counting costs no allocation however many addresses connect; when the
// window of a new address is full, the connection is let through uncounted rather than refused
// (failing open keeps a flood of addresses from locking out a legitimate one). Loop thread only.
class PeerCounts {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // Counts a connection from `peer`. Returns its slot (for release()), kNone when it is not
  // counted, or kRefused when the address already has `limit` connections.
  static constexpr uint32_t kRefused = UINT32_MAX - 1;
  uint32_t acquire(const sockaddr* peer, uint32_t limit) {
    Key key;
    if (!keyOf(peer, &key)) {
      return kNone;
    }
    uint32_t start = hash(key) % kSlots;
    uint32_t free_slot = kNone;
    for (uint32_t i = 0; i < kProbe; ++i) {
      uint32_t at = (start + i) % kSlots;
      Slot& s = slots_[at];
      if (s.count > 0 && s.key == key) {
        if (s.count >= limit) {
          return kRefused;
        }
        ++s.count;
        return at;
      }
      if (s.count == 0 && free_slot == kNone) {
        free_slot = at;  // empty, or left by an address with no connection: reusable, since
                         // the whole window was searched for this address first
      }
    }
    if (free_slot == kNone) {
      return kNone;
    }
    slots_[free_slot].key = key;
    slots_[free_slot].count = 1;
    return free_slot;
  }

  void release(uint32_t slot) {
    if (slot < kSlots && slots_[slot].count > 0) {
      --slots_[slot].count;
    }
  }

 private:
  static constexpr uint32_t kSlots = 4096;
  static constexpr uint32_t kProbe = 16;

  struct Key {
    std::array<uint8_t, 16> bytes{};  // IPv4 as ::ffff:a.b.c.d
    bool operator==(const Key&) const = default;
  };
  struct Slot {
    Key key;
    uint32_t count = 0;
  };

  static bool keyOf(const sockaddr* peer, Key* key) {
    if (peer->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(peer);
      key->bytes[10] = key->bytes[11] = 0xff;
      std::memcpy(&key->bytes[12], &in->sin_addr, 4);
      return true;
    }
    if (peer->sa_family == AF_INET6) {
      std::memcpy(key->bytes.data(), &reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr, 16);
      return true;
    }
    return false;
  }
  static uint32_t hash(const Key& key) {
    uint32_t h = 2166136261u;  // FNV-1a
    for (uint8_t b : key.bytes) {
      h = (h ^ b) * 16777619u;
    }
    return h;
  }

  std::array<Slot, kSlots> slots_{};
};

}  // namespace portd::net
