#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace portd::server::systemd {

// sd_notify(3) messages. Each is a no-op when the service manager did not ask for them (no
// NOTIFY_SOCKET), so the daemon calls them unconditionally.
void ready(std::string_view status);
void reloading();  // RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload expects
void stopping();
void status(std::string_view status);
void watchdogPing();

// The watchdog interval systemd asked for (WatchdogSec), in microseconds; 0 when none.
uint64_t watchdogUsec();

// Sockets passed by the service manager (LISTEN_FDS, LISTEN_FDNAMES), grouped by name. The
// environment variables are removed, so that nothing the daemon starts inherits them.
std::map<std::string, std::vector<int>> takePassedSockets();

// Checks that a passed descriptor is a socket of the listener's kind: a listening stream
// socket for TCP, a datagram socket for UDP. Returns an empty string or what is wrong.
std::string checkPassedSocket(int fd, bool tcp);

}  // namespace portd::server::systemd
