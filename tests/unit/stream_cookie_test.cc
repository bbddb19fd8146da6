#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

#include "handlers/stream/cookie.h"

namespace portd::handlers::stream {
namespace {

// The reference test vector of SipHash-2-4 (its paper, appendix A): key 00..0f, message 00..0e.
TEST(StreamCookie, SipHashMatchesTheReferenceVector) {
  unsigned char key[16];
  unsigned char msg[15];
  for (int i = 0; i < 16; ++i) {
    key[i] = static_cast<unsigned char>(i);
  }
  for (int i = 0; i < 15; ++i) {
    msg[i] = static_cast<unsigned char>(i);
  }
  uint64_t k0 = 0;
  uint64_t k1 = 0;
  for (int i = 7; i >= 0; --i) {
    k0 = (k0 << 8) | key[i];
    k1 = (k1 << 8) | key[8 + i];
  }
  EXPECT_EQ(sipHash24(k0, k1, msg, sizeof msg), 0xa129ca6149be45e5ull);
  EXPECT_EQ(sipHash24(k0, k1, msg, 0), 0x726fdb47dd0e0e31ull);
}

sockaddr_in v4(const char* dotted, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, dotted, &a.sin_addr);
  return a;
}

TEST(StreamCookie, GoodForItsAddressPortAndTwoEpochsOnly) {
  const uint64_t key[2] = {1, 2};
  const CookieJar jar(key);
  const sockaddr_in a = v4("192.0.2.1", 4000);
  const sockaddr_in other_port = v4("192.0.2.1", 4001);
  const sockaddr_in other_host = v4("192.0.2.2", 4000);
  const auto* pa = reinterpret_cast<const sockaddr*>(&a);
  const uint64_t t = 100 * CookieJar::kEpochNs + 5;
  const uint64_t c = jar.make(pa, t);
  EXPECT_TRUE(jar.check(pa, c, t));
  EXPECT_TRUE(jar.check(pa, c, t + CookieJar::kEpochNs)) << "good in the next epoch too";
  EXPECT_FALSE(jar.check(pa, c, t + 2 * CookieJar::kEpochNs)) << "then stale";
  EXPECT_FALSE(jar.check(reinterpret_cast<const sockaddr*>(&other_port), c, t));
  EXPECT_FALSE(jar.check(reinterpret_cast<const sockaddr*>(&other_host), c, t));
  EXPECT_FALSE(jar.check(pa, c ^ 1, t));
  const uint64_t other_key[2] = {1, 3};
  EXPECT_NE(CookieJar(other_key).make(pa, t), c) << "another listener, another key";
}

}  // namespace
}  // namespace portd::handlers::stream
