#include "admin/host_netstat.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace portd::admin {

namespace {

// /proc/net/netstat is some 5 KiB on Linux 6; what lies beyond this is not read.
constexpr size_t kMaxFile = 64 * 1024;

// The next whitespace-separated token of `line`, removed from it; empty at the end.
std::string_view nextToken(std::string_view& line) {
  size_t start = line.find_first_not_of(" \t\r");
  if (start == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(start);
  size_t end = line.find_first_of(" \t\r");
  std::string_view token = line.substr(0, end);
  line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  return token;
}

}  // namespace

std::optional<uint64_t> netstatValue(std::string_view text, std::string_view group,
                                     std::string_view field) {
  // Whether the previous line was the group's header, and the field's place in it (npos: the
  // header lacks it, and its values line is skipped).
  bool after_header = false;
  size_t index = std::string_view::npos;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || line.substr(0, colon) != group) {
      after_header = false;
      continue;
    }
    line.remove_prefix(colon + 1);
    if (!after_header) {
      after_header = true;
      index = std::string_view::npos;
      for (size_t i = 0; !line.empty(); ++i) {
        if (nextToken(line) == field) {
          index = i;
          break;
        }
      }
      continue;
    }
    after_header = false;
    if (index == std::string_view::npos) {
      continue;
    }
    std::string_view token;
    for (size_t i = 0; i <= index; ++i) {
      token = nextToken(line);
    }
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (!token.empty() && ec == std::errc() && end == token.data() + token.size()) {
      return value;
    }
  }
  return std::nullopt;
}

HostListenCounters readHostListenCounters(const char* path) {
  HostListenCounters out;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return out;
  }
  std::string text(kMaxFile, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  out.overflows = netstatValue(text, "TcpExt", "ListenOverflows");
  out.drops = netstatValue(text, "TcpExt", "ListenDrops");
  return out;
}

}  // namespace portd::admin
