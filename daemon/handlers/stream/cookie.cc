#include "handlers/stream/cookie.h"

#include <netinet/in.h>
#include <sys/random.h>

#include <bit>
#include <cstring>
#include <random>

namespace portd::handlers::stream {

namespace {

uint64_t load64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | p[i];
  }
  return v;
}

}  // namespace

uint64_t sipHash24(uint64_t k0, uint64_t k1, const unsigned char* data, size_t len) {
  uint64_t v0 = 0x736f6d6570736575ull ^ k0;
  uint64_t v1 = 0x646f72616e646f6dull ^ k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ k0;
  uint64_t v3 = 0x7465646279746573ull ^ k1;
  auto round = [&] {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  };
  const size_t whole = len - len % 8;
  for (size_t i = 0; i < whole; i += 8) {
    const uint64_t m = load64(data + i);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  uint64_t last = static_cast<uint64_t>(len & 0xff) << 56;
  for (size_t i = 0; i < len % 8; ++i) {
    last |= static_cast<uint64_t>(data[whole + i]) << (8 * i);
  }
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

CookieJar::CookieJar() {
  uint64_t key[2] = {0, 0};
  if (::getrandom(key, sizeof key, 0) != static_cast<ssize_t>(sizeof key)) {
    std::random_device rd;  // getrandom cannot fail once the pool is ready; this is a fallback
    key[0] = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    key[1] = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  k0_ = key[0];
  k1_ = key[1];
}

uint64_t CookieJar::mac(const sockaddr* peer, uint64_t epoch) const {
  // family, port, address, epoch: at most 2 + 2 + 16 + 8 bytes.
  unsigned char buf[28] = {};
  size_t n = 0;
  auto put = [&](const void* p, size_t len) {
    std::memcpy(buf + n, p, len);
    n += len;
  };
  const uint16_t family = peer->sa_family;
  put(&family, 2);
  if (peer->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(peer);
    put(&a->sin6_port, 2);
    put(&a->sin6_addr, 16);
  } else {
    const auto* a = reinterpret_cast<const sockaddr_in*>(peer);
    put(&a->sin_port, 2);
    put(&a->sin_addr, 4);
  }
  put(&epoch, 8);
  return sipHash24(k0_, k1_, buf, n);
}

}  // namespace portd::handlers::stream
