#pragma once

#include <sys/socket.h>

#include <cstdint>

namespace portd::handlers::stream {

// Return-routability cookies for UDP subscribers. A subscribe datagram's source address can be
// forged, and a source stream sends far more than it receives: without proof that the
// subscriber receives at its address, one spoofed datagram would aim a stream at anyone. So a
// subscribe without a valid cookie gets only a challenge no larger than itself, carrying the
// cookie for its address, and the stream starts when a subscribe comes back with it (as DTLS
// and QUIC do). A cookie is SipHash-2-4 of the address, the port and a 30-second epoch, under a
// key drawn when the listener is configured; it is good for its epoch and the next.
class CookieJar {
 public:
  CookieJar();  // a fresh random key
  explicit CookieJar(const uint64_t key[2]) : k0_(key[0]), k1_(key[1]) {}

  static constexpr uint64_t kEpochNs = 30'000'000'000ull;

  uint64_t make(const sockaddr* peer, uint64_t now_ns) const {
    return mac(peer, now_ns / kEpochNs);
  }
  bool check(const sockaddr* peer, uint64_t cookie, uint64_t now_ns) const {
    const uint64_t epoch = now_ns / kEpochNs;
    return cookie == mac(peer, epoch) || (epoch > 0 && cookie == mac(peer, epoch - 1));
  }

 private:
  uint64_t mac(const sockaddr* peer, uint64_t epoch) const;

  uint64_t k0_ = 0;
  uint64_t k1_ = 0;
};

// SipHash-2-4 (Aumasson and Bernstein) of `len` bytes under the 128-bit key (k0, k1).
uint64_t sipHash24(uint64_t k0, uint64_t k1, const unsigned char* data, size_t len);

}  // namespace portd::handlers::stream
