// Tests that need a network namespace of their own: kernel counters nobody else moves
// (TcpExt ListenOverflows), or a sysctl the host does not have (TCP Fast Open for servers).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace portd::itest {

// Runs `body` on a thread of its own that has moved to a new network namespace with its
// loopback up and these sysctls written ({"net/ipv4/tcp_fastopen", "3"}). A namespace belongs
// to a thread: what `body` starts (the daemon, client programs) and the sockets it opens are
// in the new one, the rest of the test process stays where it was. Failures (no CAP_SYS_ADMIN)
// are test failures; gtest assertions in `body` work as on the main thread.
void inNewNetns(const std::vector<std::pair<std::string, std::string>>& sysctls,
                const std::function<void()>& body);

// Field `field` of TcpExt in process `pid`'s network namespace (/proc/PID/net/netstat), or -1
// when there is none.
long long tcpExtCounter(pid_t pid, const std::string& field);

}  // namespace portd::itest
