// The subcommands that run to completion: check, handlers, --version.

#include <gtest/gtest.h>

#include <sstream>

#include "daemon_process.h"

namespace portd::itest {
namespace {

// The first line of `text` that starts with `prefix`, or "" if there is none.
std::string lineStartingWith(const std::string& text, std::string_view prefix) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) {
      return line;
    }
  }
  return "";
}

TEST(CliTest, CheckAcceptsAGoodFileAndPrintsEachListener) {
  TempFile file(R"toml(
[server]
workers = 3

[[listener]]
name = "alpha"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"

[[listener]]
name = "beta"
protocol = "udp"
address = "[::1]:0"
handler = "discard"
)toml");
  CommandResult r = runPortd({"check", "-c", file.path()});
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  EXPECT_NE(r.out.find("is valid"), std::string::npos) << r.out;
  const std::string alpha = lineStartingWith(r.out, "  alpha ");
  EXPECT_NE(alpha.find("tcp 127.0.0.1:0"), std::string::npos) << r.out;
  EXPECT_NE(alpha.find("echo"), std::string::npos) << r.out;
  const std::string beta = lineStartingWith(r.out, "  beta ");
  EXPECT_NE(beta.find("udp [::1]:0"), std::string::npos) << r.out;
  EXPECT_NE(beta.find("discard"), std::string::npos) << r.out;
}

TEST(CliTest, CheckRejectsABadFile) {
  TempFile file(R"toml(
[[listener]]
name = "alpha"
protocol = "sctp"
address = "127.0.0.1:0"
handler = "echo"
)toml");
  CommandResult r = runPortd({"check", "-c", file.path()});
  EXPECT_EQ(r.status, ExitStatus::exited(2)) << r.out;
  EXPECT_NE(r.err.find(file.path() + ":4:12: listener[0].protocol"), std::string::npos) << r.err;
}

TEST(CliTest, HandlersListsTheBuiltins) {
  CommandResult r = runPortd({"handlers"});
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  EXPECT_NE(lineStartingWith(r.out, "echo "), "") << r.out;
  EXPECT_NE(lineStartingWith(r.out, "discard "), "") << r.out;
}

TEST(CliTest, VersionPrintsTheProjectVersion) {
  CommandResult r = runPortd({"--version"});
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  EXPECT_EQ(r.out, "portd " PORTD_EXPECTED_VERSION "\n");
}

TEST(CliTest, UnknownSubcommandIsAUsageError) {
  CommandResult r = runPortd({"frobnicate"});
  EXPECT_EQ(r.status, ExitStatus::exited(2)) << r.err;
}

TEST(CliTest, PortdConfigNamesTheFileAndDashCWins) {
  TempFile good(R"toml(
[[listener]]
name = "from-env"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml");
  TempFile bad("[[listener]]\nname = 1\n");
  CommandResult env = runPortd({"check"}, 10s, {"PORTD_CONFIG=" + good.path()});
  EXPECT_EQ(env.status, ExitStatus::exited(0)) << env.err;
  EXPECT_NE(env.out.find("from-env"), std::string::npos) << env.out;

  CommandResult flag = runPortd({"check", "-c", good.path()}, 10s, {"PORTD_CONFIG=" + bad.path()});
  EXPECT_EQ(flag.status, ExitStatus::exited(0)) << flag.err;

  CommandResult broken = runPortd({"check"}, 10s, {"PORTD_CONFIG=" + bad.path()});
  EXPECT_EQ(broken.status, ExitStatus::exited(2));
  EXPECT_NE(broken.err.find(bad.path() + ":2:"), std::string::npos) << broken.err;
}

}  // namespace
}  // namespace portd::itest
