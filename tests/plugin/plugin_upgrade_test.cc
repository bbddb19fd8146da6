// A plugin rebuilt at the same path is picked up by the next reload as a build of its own: new
// connections reach the new build while the connections already open keep the old code, whether
// the new file was renamed over the old one or written over it in place. A reload that finds the
// file unchanged loads nothing again.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

#include "daemon_process.h"
#include "net_client.h"

namespace portd::itest {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes `bytes` into the file at `path` itself: same inode, new contents, as `cp` or a linker
// writing its output in place does.
::testing::AssertionResult overwriteInPlace(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    return ::testing::AssertionFailure() << "open " << path << ": " << std::strerror(errno);
  }
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno != EINTR) {
      ::close(fd);
      return ::testing::AssertionFailure() << "write " << path << ": " << std::strerror(errno);
    }
    done += n > 0 ? static_cast<size_t>(n) : 0;
  }
  ::close(fd);
  return ::testing::AssertionSuccess();
}

// Writes `bytes` to a new file beside `path` and renames it over `path`, as `install` or a
// package manager does: a new inode at the same path.
::testing::AssertionResult renameOver(const std::string& path, const std::string& bytes) {
  std::string next = path + ".new";
  {
    std::ofstream out(next, std::ios::binary);
    out << bytes;
  }
  if (::rename(next.c_str(), path.c_str()) != 0) {
    return ::testing::AssertionFailure() << "rename " << next << ": " << std::strerror(errno);
  }
  return ::testing::AssertionSuccess();
}

ino_t inodeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

// How many private copies of the plugin file at `path` the daemon has mapped: portd loads each
// build from an anonymous memory file named after the plugin file, which the kernel shows in
// /proc/PID/maps as "/memfd:NAME (deleted)", one inode per copy.
size_t mappedCopies(pid_t pid, const std::string& path) {
  std::string name = "/memfd:" + path.substr(path.rfind('/') + 1) + " ";
  std::istringstream maps(readFile("/proc/" + std::to_string(pid) + "/maps"));
  std::set<std::string> inodes;
  for (std::string line; std::getline(maps, line);) {
    if (line.find(name) == std::string::npos) {
      continue;
    }
    std::istringstream fields(line);
    std::string range, perms, offset, device, inode;
    fields >> range >> perms >> offset >> device >> inode;
    inodes.insert(device + " " + inode);
  }
  return inodes.size();
}

std::string configFor(const std::string& plugin, const std::string& options = "") {
  return "[server]\nworkers = 2\nshutdown_timeout = \"2s\"\n\n[[plugin]]\npath = \"" + plugin +
         "\"\n\n[[listener]]\nname = \"up\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
         "handler = \"upgrade\"\n" +
         options;
}

// The answer of the build serving `fd` to one more request.
std::string ask(int fd, size_t answer_len = 2) {
  EXPECT_TRUE(sendAll(fd, "?"));
  return readExactly(fd, answer_len);
}

std::string loadedLine(const std::string& version, const std::string& path) {
  return "plugin \"upgrade\" version " + version + " loaded from " + path + " (";
}

constexpr const char* kNewBuild =
    "a new build: new connections reach it, connections already open keep the old code "
    "(version 1.0.0, ";

enum class Replace { kRename, kInPlace };

// Serves build 1, replaces the file with build 2 the way `how` says, reloads, and checks that
// a new connection reaches build 2 while the one opened before still reaches build 1.
void upgrade(Replace how) {
  TempFile plugin(readFile(PLUGIN_UPGRADE_V1), ".so");
  const std::string& path = plugin.path();
  Daemon d;
  ASSERT_TRUE(d.start(configFor(path)));
  EXPECT_EQ(d.countLogLines(loadedLine("1.0.0", path)), 1u) << d.log();

  Fd a = connectTcp(d.listener("up"));
  ASSERT_TRUE(a.valid());
  EXPECT_EQ(ask(a.get()), "v1");
  EXPECT_EQ(mappedCopies(d.pid(), path), 1u);

  // The file unchanged: nothing is loaded again, nothing said about the plugin.
  ASSERT_TRUE(d.reload(1));
  EXPECT_EQ(mappedCopies(d.pid(), path), 1u);
  EXPECT_EQ(d.countLogLines("plugin \"upgrade\""), 1u) << d.log();

  ino_t before = inodeOf(path);
  std::string v2 = readFile(PLUGIN_UPGRADE_V2);
  if (how == Replace::kRename) {
    ASSERT_TRUE(renameOver(path, v2));
    EXPECT_NE(inodeOf(path), before);
  } else {
    ASSERT_TRUE(overwriteInPlace(path, v2));
    EXPECT_EQ(inodeOf(path), before);
  }
  // The open connection still runs the first build: portd runs a private copy of it, so even
  // the bytes overwritten under it do not matter.
  EXPECT_EQ(ask(a.get()), "v1");

  ASSERT_TRUE(d.reload(2));
  EXPECT_EQ(d.countLogLines("reload refused"), 0u) << d.log();
  Fd b = connectTcp(d.listener("up"));
  ASSERT_TRUE(b.valid());
  EXPECT_EQ(ask(b.get()), "v2");
  EXPECT_EQ(ask(a.get()), "v1");
  EXPECT_EQ(mappedCopies(d.pid(), path), 2u);
  EXPECT_EQ(d.countLogLines(loadedLine("2.0.0", path)), 1u) << d.log();
  EXPECT_EQ(d.countLogLines(kNewBuild), 1u) << d.log();

  // Unchanged again: the second build keeps serving, from the copy already loaded.
  ASSERT_TRUE(d.reload(3));
  Fd c = connectTcp(d.listener("up"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(ask(c.get()), "v2");
  EXPECT_EQ(ask(a.get()), "v1");
  EXPECT_EQ(mappedCopies(d.pid(), path), 2u);
  EXPECT_EQ(d.countLogLines("plugin \"upgrade\""), 2u) << d.log();

  a.reset();
  b.reset();
  c.reset();
  EXPECT_TRUE(d.stop()) << d.log();
}

TEST(PluginUpgrade, NewBuildRenamedOverTheOldOne) { upgrade(Replace::kRename); }

TEST(PluginUpgrade, NewBuildWrittenOverTheOldOneInPlace) { upgrade(Replace::kInPlace); }

// The options of a reload are checked against the build it loads: an option only the new build
// knows is accepted in the same reload that brings the new build.
TEST(PluginUpgrade, NewBuildsOptionsAreCheckedByTheNewBuild) {
  TempFile plugin(readFile(PLUGIN_UPGRADE_V1), ".so");
  const std::string& path = plugin.path();
  Daemon d;
  ASSERT_TRUE(d.start(configFor(path)));
  Fd a = connectTcp(d.listener("up"));
  ASSERT_TRUE(a.valid());
  EXPECT_EQ(ask(a.get()), "v1");

  ASSERT_TRUE(renameOver(path, readFile(PLUGIN_UPGRADE_V2)));
  d.rewriteConfig(configFor(path, "[listener.options]\nsuffix = \"!\"\n"));
  ASSERT_TRUE(d.reload(1));
  EXPECT_EQ(d.countLogLines("reload refused"), 0u) << d.log();
  Fd b = connectTcp(d.listener("up"));
  ASSERT_TRUE(b.valid());
  EXPECT_EQ(ask(b.get(), 3), "v2!");
  EXPECT_EQ(ask(a.get()), "v1");

  a.reset();
  b.reset();
  EXPECT_TRUE(d.stop()) << d.log();
}

}  // namespace
}  // namespace portd::itest
