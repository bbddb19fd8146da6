#include "server/systemd.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace portd::server::systemd {

namespace {

void send(const std::string& message) {
  // unset_environment = 0: every later message goes to the same socket.
  sd_notify(0, message.c_str());
}

uint64_t monotonicUsec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

void ready(std::string_view status_line) { send(fmt::format("READY=1\nSTATUS={}", status_line)); }

void reloading() { send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", monotonicUsec())); }

void stopping() { send("STOPPING=1\nSTATUS=draining"); }

void status(std::string_view status_line) { send(fmt::format("STATUS={}", status_line)); }

void watchdogPing() { send("WATCHDOG=1"); }

uint64_t watchdogUsec() {
  uint64_t usec = 0;
  return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

std::map<std::string, std::vector<int>> takePassedSockets() {
  std::map<std::string, std::vector<int>> out;
  char** names = nullptr;
  int n = sd_listen_fds_with_names(1, &names);
  for (int i = 0; i < n; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    std::string name = names != nullptr && names[i] != nullptr ? names[i] : "unknown";
    out[name].push_back(fd);
    free(names != nullptr ? names[i] : nullptr);
  }
  free(names);
  return out;
}

std::string checkPassedSocket(int fd, bool tcp) {
  int r = sd_is_socket(fd, AF_UNSPEC, tcp ? SOCK_STREAM : SOCK_DGRAM, tcp ? 1 : -1);
  if (r < 0) {
    return fmt::format("descriptor {}: {}", fd, std::strerror(-r));
  }
  if (r == 0) {
    return fmt::format(
        "descriptor {} is not a {}", fd,
        tcp ? "listening stream socket (ListenStream=)" : "datagram socket (ListenDatagram=)");
  }
  return "";
}

}  // namespace portd::server::systemd
