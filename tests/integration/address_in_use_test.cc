// A second portd on an address another one serves must fail with "address already in use",
// not start and silently share the port through SO_REUSEPORT; unless the listener asks to share.

#include <gtest/gtest.h>

#include <string>

#include "daemon_process.h"

namespace portd::itest {
namespace {

std::string config(const std::string& tcp, const std::string& udp, bool share) {
  std::string reuse = share ? "reuse_port = true\n" : "";
  return "[server]\nworkers = 2\n\n[[listener]]\nname = \"t\"\nprotocol = \"tcp\"\naddress = \"" +
         tcp + "\"\nhandler = \"echo\"\n" + reuse +
         "\n[[listener]]\nname = \"u\"\nprotocol = \"udp\"\naddress = \"" + udp +
         "\"\nhandler = \"echo\"\n" + reuse;
}

TEST(AddressInUseTest, ASecondDaemonOnTheSameAddressExitsWithAClearMessage) {
  Daemon first;
  ASSERT_TRUE(first.start(config("127.0.0.1:0", "127.0.0.1:0", false)));
  const std::string tcp = first.listener("t").toString();
  const std::string udp = first.listener("u").toString();

  TempFile tcp_taken(config(tcp, "127.0.0.1:0", false));
  CommandResult r = runPortd({"serve", "-c", tcp_taken.path()});
  EXPECT_EQ(r.status, ExitStatus::exited(1)) << r.err;
  EXPECT_NE(r.err.find("listener \"t\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Address already in use"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reuse_port"), std::string::npos) << r.err;

  TempFile udp_taken(config("127.0.0.1:0", udp, false));
  r = runPortd({"serve", "-c", udp_taken.path()});
  EXPECT_EQ(r.status, ExitStatus::exited(1)) << r.err;
  EXPECT_NE(r.err.find("listener \"u\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Address already in use"), std::string::npos) << r.err;

  // The first one never noticed.
  Fd c = connectTcp(first.listener("t"));
  EXPECT_TRUE(echoRoundTrip(c.get(), "still mine"));
}

TEST(AddressInUseTest, ListenersThatOptInShareTheAddress) {
  Daemon first;
  ASSERT_TRUE(first.start(config("127.0.0.1:0", "127.0.0.1:0", true)));
  Daemon second;
  ASSERT_TRUE(
      second.start(config(first.listener("t").toString(), first.listener("u").toString(), true)));
  EXPECT_EQ(second.listener("t").port(), first.listener("t").port());
  Fd c = connectTcp(first.listener("t"));
  EXPECT_TRUE(echoRoundTrip(c.get(), "shared"));
}

}  // namespace
}  // namespace portd::itest
