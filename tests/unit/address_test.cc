#include "net/address.h"

#include <gtest/gtest.h>

using portd::net::Address;

TEST(Address, ParsesIpv4AndIpv6) {
  std::string error;
  auto v4 = Address::parse("127.0.0.1:7000", &error);
  ASSERT_TRUE(v4) << error;
  EXPECT_EQ(v4->family(), AF_INET);
  EXPECT_EQ(v4->port(), 7000);
  EXPECT_TRUE(v4->isLoopback());
  EXPECT_EQ(v4->toString(), "127.0.0.1:7000");

  auto v6 = Address::parse("[::1]:7000", &error);
  ASSERT_TRUE(v6) << error;
  EXPECT_EQ(v6->family(), AF_INET6);
  EXPECT_TRUE(v6->isLoopback());
  EXPECT_EQ(v6->toString(), "[::1]:7000");

  auto any = Address::parse("0.0.0.0:0", &error);
  ASSERT_TRUE(any) << error;
  EXPECT_FALSE(any->isLoopback());
  EXPECT_EQ(any->port(), 0);

  auto any6 = Address::parse("[::]:65535", &error);
  ASSERT_TRUE(any6) << error;
  EXPECT_EQ(any6->port(), 65535);
}

TEST(Address, RejectsBadText) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "127.0.0.1:7x", "localhost:7000", "::1:7000", "[::1]7000", "[::1",
                          "[127.0.0.1]:7000", "256.0.0.1:80", ":7000"}) {
    std::string error;
    EXPECT_FALSE(Address::parse(bad, &error)) << bad;
    EXPECT_NE(error.find("invalid address"), std::string::npos) << bad << ": " << error;
  }
}

TEST(Address, SetPortAndCompare) {
  std::string error;
  auto a = *Address::parse("127.0.0.1:0", &error);
  auto b = *Address::parse("127.0.0.1:9", &error);
  EXPECT_FALSE(a == b);
  a.setPort(9);
  EXPECT_TRUE(a == b);
}
