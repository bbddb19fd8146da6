#include "config/file_reader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/options.h"

namespace portd::config {

namespace {

const char* kindOf(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISCHR(mode)) {
    return "a character device";
  }
  if (S_ISBLK(mode)) {
    return "a block device";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "not a file";
}

std::string notRegular(mode_t mode) { return fmt::format("not a regular file ({})", kindOf(mode)); }

// Closes the descriptor on every way out of readRegularFile().
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() { ::close(fd_); }

 private:
  int fd_;
};

}  // namespace

std::string describeByteLimit(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0) {
    return fmt::format("{}MiB", bytes >> 20);
  }
  if (bytes >= 1024 && bytes % 1024 == 0) {
    return fmt::format("{}KiB", bytes >> 10);
  }
  return fmt::format("{} bytes", bytes);
}

std::optional<std::string> readRegularFile(const std::string& path, uint64_t max_bytes,
                                           std::string* error) {
  // A NUL would end the name open() sees: it would open another file than the one written.
  if (path.empty() || path.find('\0') != std::string::npos) {
    *error = path.empty() ? "empty path" : "the path holds a NUL character";
    return std::nullopt;
  }
  // Checked before opening too, so that a device is never opened at all (opening some has side
  // effects, such as a tape drive rewinding).
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = notRegular(st.st_mode);
    return std::nullopt;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  FdCloser closer(fd);
  // The path may name something else by now: what counts is what was opened.
  if (::fstat(fd, &st) != 0) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = notRegular(st.st_mode);
    return std::nullopt;
  }
  const std::string too_large = "larger than " + describeByteLimit(max_bytes);
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > max_bytes) {
    *error = too_large;
    return std::nullopt;
  }
  // The size stat() gives is only a hint (files in /proc say 0, a file may grow while it is
  // read), so the read goes on to the end of the file, one byte past the limit at most.
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buffer[64 * 1024];
  for (;;) {
    // One byte past the limit is enough to tell that the file is over it.
    const uint64_t left = max_bytes - out.size();
    const size_t want = left < sizeof buffer ? static_cast<size_t>(left) + 1 : sizeof buffer;
    const ssize_t n = ::read(fd, buffer, want);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      *error = std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) {
      break;
    }
    out.append(buffer, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      *error = too_large;
      return std::nullopt;
    }
  }
  return out;
}

std::string readOptionFile(const std::string& path, uint64_t max_bytes, const std::string& key) {
  std::string error;
  std::optional<std::string> text = readRegularFile(path, max_bytes, &error);
  if (!text) {
    throw OptionError(key, fmt::format("cannot read \"{}\": {}", path, error));
  }
  return std::move(*text);
}

}  // namespace portd::config
