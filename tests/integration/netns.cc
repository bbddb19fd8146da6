#include "netns.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace portd::itest {

namespace {

::testing::AssertionResult enterNewNetns(
    const std::vector<std::pair<std::string, std::string>>& sysctls) {
  if (::unshare(CLONE_NEWNET) != 0) {
    return ::testing::AssertionFailure() << "unshare(CLONE_NEWNET): " << std::strerror(errno)
                                         << " (the test needs CAP_SYS_ADMIN: run it as root)";
  }
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool up = s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0 &&
            (ifr.ifr_flags |= IFF_UP, ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
  int err = errno;
  if (s >= 0) {
    ::close(s);
  }
  if (!up) {
    return ::testing::AssertionFailure() << "bringing lo up: " << std::strerror(err);
  }
  // Network sysctls are the namespace of the thread that opens them.
  for (const auto& [name, value] : sysctls) {
    std::ofstream f("/proc/sys/" + name);
    f << value << "\n";
    f.close();
    if (!f) {
      return ::testing::AssertionFailure() << "writing " << value << " to /proc/sys/" << name;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

void inNewNetns(const std::vector<std::pair<std::string, std::string>>& sysctls,
                const std::function<void()>& body) {
  std::thread t([&] {
    ::testing::AssertionResult entered = enterNewNetns(sysctls);
    if (!entered) {
      ADD_FAILURE() << entered.message();
      return;
    }
    body();
  });
  t.join();
}

long long tcpExtCounter(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/netstat");
  std::string header, values;
  while (std::getline(in, header) && std::getline(in, values)) {
    if (!header.starts_with("TcpExt:")) {
      continue;
    }
    std::istringstream names(header.substr(7)), numbers(values.substr(7));
    std::string name;
    long long value = -1;
    while (names >> name && numbers >> value) {
      if (name == field) {
        return value;
      }
    }
  }
  return -1;
}

}  // namespace portd::itest
