#include "admin/host_netstat.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace portd::admin {
namespace {

// The start of Linux 6's /proc/net/netstat, cut short: pairs of header and values lines.
const char* kNetstat =
    "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed ListenOverflows ListenDrops "
    "TCPFastOpenPassive\n"
    "TcpExt: 0 0 0 12 15 3\n"
    "IpExt: InNoRoutes InTruncatedPkts ListenOverflows\n"
    "IpExt: 0 0 99\n";

TEST(HostNetstat, FindsFieldsByNameInTheirGroup) {
  EXPECT_EQ(netstatValue(kNetstat, "TcpExt", "ListenOverflows"), 12u);
  EXPECT_EQ(netstatValue(kNetstat, "TcpExt", "ListenDrops"), 15u);
  EXPECT_EQ(netstatValue(kNetstat, "TcpExt", "SyncookiesSent"), 0u);
  EXPECT_EQ(netstatValue(kNetstat, "TcpExt", "TCPFastOpenPassive"), 3u) << "the last field";
  EXPECT_EQ(netstatValue(kNetstat, "IpExt", "ListenOverflows"), 99u) << "a name in another group";
  EXPECT_EQ(netstatValue(kNetstat, "TcpExt", "InNoRoutes"), std::nullopt);
  EXPECT_EQ(netstatValue(kNetstat, "MptcpExt", "ListenOverflows"), std::nullopt);
  EXPECT_EQ(netstatValue(kNetstat, "TcpExt", "Listen"), std::nullopt) << "whole names only";
}

TEST(HostNetstat, OrderAndWhitespaceDoNotMatter) {
  // Another kernel: other fields, another order, tabs, CRLF, no final newline.
  const char* text =
      "IpExt: A\r\nIpExt: 1\r\nTcpExt:\tListenDrops  ListenOverflows\r\n"
      "TcpExt:\t7  18446744073709551615";
  EXPECT_EQ(netstatValue(text, "TcpExt", "ListenDrops"), 7u);
  EXPECT_EQ(netstatValue(text, "TcpExt", "ListenOverflows"), 18446744073709551615u);
}

TEST(HostNetstat, MalformedTextGivesNothingRatherThanAWrongValue) {
  // A values line that is missing, too short, not a number or out of range.
  EXPECT_EQ(netstatValue("TcpExt: ListenOverflows\n", "TcpExt", "ListenOverflows"), std::nullopt);
  EXPECT_EQ(netstatValue("TcpExt: A ListenOverflows\nTcpExt: 1\n", "TcpExt", "ListenOverflows"),
            std::nullopt);
  EXPECT_EQ(netstatValue("TcpExt: ListenOverflows\nTcpExt: x1\n", "TcpExt", "ListenOverflows"),
            std::nullopt);
  EXPECT_EQ(netstatValue("TcpExt: ListenOverflows\nTcpExt: -1\n", "TcpExt", "ListenOverflows"),
            std::nullopt);
  EXPECT_EQ(netstatValue("TcpExt: ListenOverflows\nTcpExt: 18446744073709551616\n", "TcpExt",
                         "ListenOverflows"),
            std::nullopt);
  // Values of another group between header and values do not pair up.
  EXPECT_EQ(
      netstatValue("TcpExt: ListenOverflows\nIpExt: 5\nTcpExt: 6\n", "TcpExt", "ListenOverflows"),
      std::nullopt);
  EXPECT_EQ(netstatValue("", "TcpExt", "ListenOverflows"), std::nullopt);
  EXPECT_EQ(netstatValue(":\n:\n\n", "", ""), std::nullopt);
}

TEST(HostNetstat, AMissingFileOrFieldLeavesTheSeriesOut) {
  HostListenCounters none = readHostListenCounters("/nonexistent/netstat");
  EXPECT_FALSE(none.overflows);
  EXPECT_FALSE(none.drops);

  std::string path = std::string(::testing::TempDir()) + "netstat-XXXXXX";
  int fd = ::mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "TcpExt: ListenOverflows\nTcpExt: 4\n";
  HostListenCounters some = readHostListenCounters(path.c_str());
  EXPECT_EQ(some.overflows, 4u);
  EXPECT_FALSE(some.drops);
  ::unlink(path.c_str());

  // The real file has both.
  HostListenCounters real = readHostListenCounters();
  EXPECT_TRUE(real.overflows);
  EXPECT_TRUE(real.drops);
}

}  // namespace
}  // namespace portd::admin
