// config::readRegularFile() and readOptionFile(): every file a configuration names is read only
// if it is a regular file, within a size limit, without blocking, and every failure is an
// error value (or an OptionError), never a stream exception, a hang or an endless read.

#include "config/file_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "config/options.h"

using portd::config::OptionError;
using portd::config::readOptionFile;
using portd::config::readRegularFile;

namespace {

// A directory of the test's own, removed with what it holds.
class TempDir {
 public:
  TempDir() {
    std::string name = (std::filesystem::temp_directory_path() / "portd-file-XXXXXX").string();
    if (::mkdtemp(name.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = name;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name, const std::string& contents) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }
  std::string path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The error readRegularFile() gives for `path`; fails the test when it reads something.
std::string errorFor(const std::string& path, uint64_t max_bytes = 1 << 20) {
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  std::optional<std::string> text = readRegularFile(path, max_bytes, &error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1)) << path;
  EXPECT_FALSE(text.has_value()) << path;
  EXPECT_FALSE(error.empty()) << path;
  return error;
}

TEST(FileReaderTest, ReadsARegularFile) {
  TempDir dir;
  std::string error;
  const std::string contents("body\0with a NUL\n", 16);
  EXPECT_EQ(readRegularFile(dir.file("a", contents), 100, &error), contents);
  EXPECT_EQ(readRegularFile(dir.file("empty", ""), 100, &error), "");
}

TEST(FileReaderTest, TheLimitIsExact) {
  TempDir dir;
  std::string error;
  EXPECT_EQ(readRegularFile(dir.file("ten", "0123456789"), 10, &error), "0123456789");
  EXPECT_EQ(errorFor(dir.file("eleven", "0123456789a"), 10), "larger than 10 bytes");
  // A file over the limit is refused by its size, without reading it.
  const std::string big = dir.path("big");
  { std::ofstream(big) << ""; }
  std::filesystem::resize_file(big, (uint64_t{64} << 20) + 1);
  EXPECT_EQ(errorFor(big, uint64_t{64} << 20), "larger than 64MiB");
}

TEST(FileReaderTest, FilesWhoseSizeStatDoesNotTellAreReadToTheEndWithinTheLimit) {
  // /proc files say they are empty.
  std::string error;
  std::optional<std::string> status = readRegularFile("/proc/self/status", 1 << 20, &error);
  ASSERT_TRUE(status.has_value()) << error;
  EXPECT_NE(status->find("Name:"), std::string::npos);
  EXPECT_EQ(errorFor("/proc/self/status", 16), "larger than 16 bytes");
}

TEST(FileReaderTest, SpecialFilesAreRefused) {
  EXPECT_EQ(errorFor("/tmp"), "not a regular file (a directory)");
  EXPECT_EQ(errorFor("/"), "not a regular file (a directory)");
  EXPECT_EQ(errorFor("/dev/zero"), "not a regular file (a character device)");
  EXPECT_EQ(errorFor("/dev/null"), "not a regular file (a character device)");
  // A regular file to stat(), whose first page cannot be read.
  EXPECT_EQ(errorFor("/proc/self/mem"), std::strerror(EIO));
}

TEST(FileReaderTest, AFifoIsRefusedWithoutWaitingForAWriter) {
  TempDir dir;
  const std::string fifo = dir.path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(errorFor(fifo), "not a regular file (a FIFO)");
}

TEST(FileReaderTest, MissingFilesAndBadNames) {
  TempDir dir;
  EXPECT_EQ(errorFor(dir.path("missing")), std::strerror(ENOENT));
  EXPECT_EQ(errorFor(dir.file("a", "x") + "/below"), std::strerror(ENOTDIR));
  EXPECT_EQ(errorFor(""), "empty path");
  // A NUL would cut the name short: "a" must not be read in place of "a\0b".
  EXPECT_EQ(errorFor(dir.file("a", "x") + std::string("\0b", 2)), "the path holds a NUL character");
  EXPECT_EQ(errorFor(std::string(5000, 'a')), std::strerror(ENAMETOOLONG));
}

TEST(FileReaderTest, ReadOptionFileThrowsAnOptionErrorAtTheKey) {
  try {
    readOptionFile("/dev/zero", 1 << 20, "route[1].body_file");
    FAIL() << "no error";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), "route[1].body_file");
    EXPECT_STREQ(e.what(), "cannot read \"/dev/zero\": not a regular file (a character device)");
  }
  TempDir dir;
  EXPECT_EQ(readOptionFile(dir.file("a", "x"), 1, "k"), "x");
}

}  // namespace
