#include "net/datagram_guard.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

using namespace portd;

namespace {

sockaddr_in v4(const char* addr, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, addr, &a.sin_addr);
  return a;
}

sockaddr_in6 v6(const char* addr, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  ::inet_pton(AF_INET6, addr, &a.sin6_addr);
  return a;
}

const sockaddr* sa(const auto& a) { return reinterpret_cast<const sockaddr*>(&a); }

}  // namespace

TEST(SourceFilterTest, RefusesLocalAddressesWithTheListenersPortOnly) {
  net::SourceFilter f({19});
  auto bound = v4("0.0.0.0", 7000);
  f.bind(sa(bound));
  EXPECT_EQ(f.check(sa(v4("127.0.0.1", 7000))), net::Refusal::kOwnAddress);
  EXPECT_EQ(f.check(sa(v4("127.0.0.5", 7000))), net::Refusal::kOwnAddress);
  EXPECT_EQ(f.check(sa(v4("0.0.0.0", 7000))), net::Refusal::kOwnAddress);
  EXPECT_EQ(f.check(sa(v4("127.0.0.1", 7001))), net::Refusal::kNone);
  EXPECT_EQ(f.check(sa(v4("192.0.2.1", 7000))), net::Refusal::kNone);  // not ours
  EXPECT_EQ(f.check(sa(v4("192.0.2.1", 19))), net::Refusal::kBlockedPort);
}

TEST(SourceFilterTest, SeesIpv4ThroughADualStackSocket) {
  net::SourceFilter f(std::vector<uint16_t>{});
  auto bound = v6("::", 7000);
  f.bind(sa(bound));
  EXPECT_EQ(f.check(sa(v6("::ffff:127.0.0.1", 7000))), net::Refusal::kOwnAddress);
  EXPECT_EQ(f.check(sa(v6("::1", 7000))), net::Refusal::kOwnAddress);
  EXPECT_EQ(f.check(sa(v6("2001:db8::1", 7000))), net::Refusal::kNone);
  EXPECT_EQ(f.check(sa(v6("::1", 19))), net::Refusal::kNone);  // nothing blocked
}

TEST(ReplyLimiterTest, AllowsTheBurstThenTheRate) {
  net::ReplyLimiter off(0, 0);
  EXPECT_FALSE(off.enabled());

  net::ReplyLimiter l(10, 3);  // 10 a second: one token every 100 ms
  ASSERT_TRUE(l.enabled());
  auto peer = v4("192.0.2.1", 5000);
  uint64_t now = 1'000'000;
  EXPECT_TRUE(l.admit(sa(peer), now));
  EXPECT_TRUE(l.admit(sa(peer), now));
  EXPECT_TRUE(l.admit(sa(peer), now));
  EXPECT_FALSE(l.admit(sa(peer), now));
  EXPECT_FALSE(l.admit(sa(peer), now + 99));
  EXPECT_TRUE(l.admit(sa(peer), now + 100));
  EXPECT_FALSE(l.admit(sa(peer), now + 100));
  // A long silence refills to the burst, no more.
  now += 60'000;
  EXPECT_TRUE(l.admit(sa(peer), now));
  EXPECT_TRUE(l.admit(sa(peer), now));
  EXPECT_TRUE(l.admit(sa(peer), now));
  EXPECT_FALSE(l.admit(sa(peer), now));
}
