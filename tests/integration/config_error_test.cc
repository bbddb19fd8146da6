// A bad configuration is refused before anything is bound: exit status 2 and a message that
// names the place in the file and the key.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

constexpr int kExitConfig = 2;

struct BadConfig {
  const char* name;
  const char* toml;
  const char* where;  // "LINE:COL: KEY", as it follows the file name in the message
};

class ConfigErrorTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ConfigErrorTest, ServeExitsWithStatus2AndNamesThePlace) {
  TempFile file(GetParam().toml);
  CommandResult r = runPortd({"serve", "-c", file.path()});
  EXPECT_EQ(r.status, ExitStatus::exited(kExitConfig)) << r.err;
  EXPECT_NE(r.err.find("portd: configuration error: " + file.path() + ":" + GetParam().where),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("ready"), std::string::npos) << r.err;
}

const BadConfig kBadConfigs[] = {
    {"UnknownKey", R"toml([server]
workers = 1
worker_threads = 4

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml",
     "3:1: server.worker_threads: unknown key"},
    {"WrongType", R"toml([server]
workers = "two"

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)toml",
     "2:11: server.workers: expected an integer"},
    {"BadAddress", R"toml([[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1"
handler = "echo"
)toml",
     "4:11: listener[0].address: invalid address"},
    {"DuplicateListenerName", R"toml([[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"

[[listener]]
name = "echo"
protocol = "udp"
address = "127.0.0.1:0"
handler = "echo"
)toml",
     "8:8: listener[1].name: duplicate listener name"},
    {"UnknownHandler", R"toml([[listener]]
name = "chargen"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "chargen"
)toml",
     "5:11: listener[0].handler: unknown handler"},
    {"UnknownOption", R"toml([[listener]]
name = "echo"
protocol = "udp"
address = "127.0.0.1:0"
handler = "echo"
[listener.options]
colour = "red"
)toml",
     "7:1: listener[0].options.colour: unknown option"},
    {"TcpOnlyKeyOnUdp", R"toml([[listener]]
name = "echo"
protocol = "udp"
address = "127.0.0.1:0"
handler = "echo"
idle_timeout = "1s"
)toml",
     "6:16: listener[0].idle_timeout: applies to tcp listeners only"},
    {"HandshakeKeyOnUdp", R"toml([[listener]]
name = "echo"
protocol = "udp"
address = "127.0.0.1:0"
handler = "echo"
fastopen = 16
)toml",
     "6:12: listener[0].fastopen: applies to tcp listeners only"},
    {"BacklogOutOfRange", R"toml([[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
backlog = 100000
)toml",
     "6:11: listener[0].backlog: must be between 1 and 65535"},
};

INSTANTIATE_TEST_SUITE_P(BadFiles, ConfigErrorTest, ::testing::ValuesIn(kBadConfigs),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ConfigErrorBindTest, NothingIsBoundWhenALaterKeyIsBad) {
  // The first listener is valid and names a TCP port that we hold, bound without
  // SO_REUSEPORT: had portd bound its listeners before reading the whole file, it would have
  // failed there with EADDRINUSE instead of reporting the bad key.
  Fd held = listenTcp(Endpoint::loopback(AF_INET));
  ASSERT_TRUE(held.valid());
  const uint16_t tcp_port = Endpoint::local(held.get()).port();
  // The second one names a free UDP port, which must still be free when portd is gone.
  const uint16_t udp_port = freePort(SOCK_DGRAM, AF_INET);
  ASSERT_NE(udp_port, 0);
  TempFile file(R"toml([[listener]]
name = "first"
protocol = "tcp"
address = "127.0.0.1:)toml" +
                std::to_string(tcp_port) +
                R"toml("
handler = "echo"

[[listener]]
name = "second"
protocol = "udp"
address = "127.0.0.1:)toml" +
                std::to_string(udp_port) +
                R"toml("
handler = "echo"

[[listener]]
name = "third"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
backlog = 0
)toml");

  CommandResult r = runPortd({"serve", "-c", file.path()});
  EXPECT_EQ(r.status, ExitStatus::exited(kExitConfig)) << r.err;
  EXPECT_NE(r.err.find(file.path() + ":18:11: listener[2].backlog: must be between 1 and 65535"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("bind"), std::string::npos) << r.err;
  EXPECT_TRUE(bindUdp(Endpoint::loopback(AF_INET, udp_port)).valid());
}

TEST(ConfigErrorBindTest, MissingFileIsAConfigurationError) {
  CommandResult r = runPortd({"serve", "-c", "/nonexistent/portd.toml"});
  EXPECT_EQ(r.status, ExitStatus::exited(kExitConfig)) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/portd.toml"), std::string::npos) << r.err;
}

// The configuration file itself is read only if it is a regular file of at most 16MiB: a
// directory, a device or a FIFO is refused at once with exit status 2.
TEST(ConfigErrorBindTest, SpecialFilesAreRefusedAtOnce) {
  std::string dir = (std::filesystem::temp_directory_path() / "portd-itest-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string fifo = dir + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  TempFile big("");
  std::filesystem::resize_file(big.path(), (16 << 20) + 1);
  const std::pair<std::string, std::string> cases[] = {
      {"/tmp", "not a regular file (a directory)"},
      {"/dev/zero", "not a regular file (a character device)"},
      {"/proc/self/mem", "Input/output error"},
      {fifo, "not a regular file (a FIFO)"},
      {big.path(), "larger than 16MiB"},
  };
  for (const auto& [path, why] : cases) {
    SCOPED_TRACE(path);
    const auto start = std::chrono::steady_clock::now();
    CommandResult r = runPortd({"check", "-c", path}, 1s);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    EXPECT_EQ(r.status, ExitStatus::exited(kExitConfig)) << r.err;
    EXPECT_NE(r.err.find("portd: configuration error: " + path +
                         ":0:0: cannot read the configuration file: " + why),
              std::string::npos)
        << r.err;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace portd::itest
