// A bad http listener configuration stops portd before it binds anything: exit status 2 and a
// message naming the file, line, column and key.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "http_client.h"

namespace portd::itest {
namespace {

struct BadHttpConfig {
  const char* name;
  const char* options;  // after the six lines of the listener and its [listener.options]
  const char* where;    // "LINE:COL: KEY" as it follows the file name in the message
  const char* message;
};

class HttpConfigErrorTest : public ::testing::TestWithParam<BadHttpConfig> {};

TEST_P(HttpConfigErrorTest, ExitsWithStatus2AndNamesThePlace) {
  const BadHttpConfig& c = GetParam();
  TempFile file(
      "[[listener]]\nname = \"web\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
      "handler = \"http\"\n[listener.options]\n" +
      std::string(c.options));
  CommandResult r = runPortd({"serve", "-c", file.path()});
  EXPECT_EQ(r.status, ExitStatus::exited(2)) << r.err;
  EXPECT_NE(r.err.find("portd: configuration error: " + file.path() + ":" + c.where),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("ready"), std::string::npos) << r.err;
}

const BadHttpConfig kBadConfigs[] = {
    {"RouteWithoutPath", "[[listener.options.route]]\nbody = \"x\"\n",
     "7:1: listener[0].options.route[0].path", "required key is missing"},
    {"BadMatch", "[[listener.options.route]]\npath = \"/a\"\nmatch = \"glob\"\n",
     "9:9: listener[0].options.route[0].match", "expected \"exact\" or \"prefix\""},
    {"MissingBodyFile",
     "[[listener.options.route]]\npath = \"/a\"\n\n[[listener.options.route]]\npath = \"/b\"\n"
     "body_file = \"no-such-file.html\"\n",
     "12:13: listener[0].options.route[1].body_file", "cannot read"},
    {"UnknownRouteKey", "[[listener.options.route]]\npath = \"/a\"\nstatuscode = 201\n",
     "9:1: listener[0].options.route[0].statuscode", "unknown key in route"},
    {"HeadersNotStrings", "[[listener.options.route]]\npath = \"/a\"\nheaders = [1]\n",
     "9:12: listener[0].options.route[0].headers[0]", "expected a string"},
    {"MaxSizeTooLarge", "max_size = \"128MiB\"\n", "7:12: listener[0].options.max_size",
     "at most 64MiB"},
    {"MaxDelayNotADuration", "max_delay = 10\n", "7:13: listener[0].options.max_delay",
     "expected a string"},
    {"UnknownOption", "max_body = \"1MiB\"\n", "7:1: listener[0].options.max_body",
     "unknown option for handler \"http\""},
};

INSTANTIATE_TEST_SUITE_P(BadFiles, HttpConfigErrorTest, ::testing::ValuesIn(kBadConfigs),
                         [](const auto& info) { return std::string(info.param.name); });

// A body_file that is not a regular file, or is too large, is a configuration error at the
// option, and `portd check` says so at once: no crash, no endless read of /dev/zero, no wait
// for a writer on a FIFO.
TEST(HttpConfigCheckTest, BodyFileMustBeARegularFileWithinTheLimit) {
  std::string dir = (std::filesystem::temp_directory_path() / "portd-itest-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string fifo = dir + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Sparse: one byte over the 64MiB limit costs no disk.
  TempFile big("", ".html");
  std::filesystem::resize_file(big.path(), (64 << 20) + 1);

  const std::pair<std::string, std::string> cases[] = {
      {"/tmp", "not a regular file (a directory)"},
      {"/", "not a regular file (a directory)"},
      {"/proc/self/mem", "Input/output error"},
      {"/dev/zero", "not a regular file (a character device)"},
      {fifo, "not a regular file (a FIFO)"},
      {big.path(), "larger than 64MiB"},
  };
  for (const auto& [path, why] : cases) {
    SCOPED_TRACE(path);
    TempFile file(
        "[[listener]]\nname = \"web\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
        "handler = \"http\"\n[listener.options]\n[[listener.options.route]]\npath = \"/a\"\n"
        "body_file = \"" +
        path + "\"\n");
    const auto start = std::chrono::steady_clock::now();
    CommandResult r = runPortd({"check", "-c", file.path()}, 1s);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    EXPECT_EQ(r.status, ExitStatus::exited(2)) << r.err;
    EXPECT_NE(r.err.find("portd: configuration error: " + file.path() +
                         ":9:13: listener[0].options.route[0].body_file: cannot read \"" + path +
                         "\": " + why),
              std::string::npos)
        << r.err;
  }
  std::filesystem::remove_all(dir);
}

TEST(HttpConfigCheckTest, BodyFileNextToTheConfigurationIsFound) {
  // A body_file given relative to the configuration file is found from any working directory.
  TempFile body("<h1>file body</h1>\n", ".html");
  const std::string name = body.path().substr(body.path().rfind('/') + 1);
  Daemon d;
  ASSERT_TRUE(d.start(httpConfig("", "[[listener.options.route]]\npath = \"/\"\nbody_file = \"" +
                                         name + "\"\ncontent_type = \"text/html\"\n")));
  CommandResult r = runCurl({"-sS", url(d.listener("web"), "/")});
  EXPECT_EQ(r.out, "<h1>file body</h1>\n") << r.err;
  EXPECT_TRUE(d.stop());
}

}  // namespace
}  // namespace portd::itest
