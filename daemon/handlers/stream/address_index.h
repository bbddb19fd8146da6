#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <vector>

namespace portd::handlers::stream {

// A peer's address as a fixed-size key: family, port and 16 bytes of address.
struct PeerKey {
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;
  uint16_t family = 0;
  bool operator==(const PeerKey&) const = default;
};

// The key of an IPv4 or IPv6 address; false for another family.
bool keyOf(const sockaddr* sa, PeerKey* out);

// An IPv4 or IPv6 address and port as "192.0.2.1:5201" or "[2001:db8::1]:5201", written into
// `out` without allocating (a peer's label in the metrics); its length, or 0 (and
// "(unspecified)" in `out`) for another family. kPeerNameMax bytes are enough for any.
constexpr size_t kPeerNameMax = 56;
size_t formatPeer(const sockaddr* sa, char (&out)[kPeerNameMax]);

// From peer addresses to slots of a fixed array, with a bounded number of entries and all of
// its memory taken up front: open addressing with linear probing in a table of at least twice
// the entries, and backward-shift deletion so that no tombstones pile up. Nothing allocates
// after construction.
class AddressIndex {
 public:
  explicit AddressIndex(size_t max_entries);

  // The slot of `key`, or -1.
  int find(const PeerKey& key) const;
  // Adds `key` (absent) with `slot`; the caller keeps to max_entries.
  void insert(const PeerKey& key, int slot);
  void erase(const PeerKey& key);

 private:
  struct Entry {
    PeerKey key;
    int slot = -1;  // -1: empty
  };
  size_t home(const PeerKey& key) const;

  std::vector<Entry> entries_;
  size_t mask_ = 0;
};

}  // namespace portd::handlers::stream
