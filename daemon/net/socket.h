#pragma once

#include <string>

#include "net/address.h"

namespace portd::net {

enum class Transport { kTcp, kUdp };

// Creates a non-blocking socket with SO_REUSEPORT set and binds it to `addr`, so that each
// worker can own a socket on the same address and the kernel spreads connections and
// datagrams over them. libuv 1.44 has no flag for SO_REUSEPORT, hence the raw socket, which
// the worker then hands to uv_tcp_open()/uv_udp_open(). Returns the descriptor, or -1 with
// `error` set.
int openBoundSocket(Transport transport, const Address& addr, std::string* error);

// kExclusive: without SO_REUSEPORT, so that the bind fails with "Address already in use" when
// any other socket holds the address (how a listener checks that no other process serves it).
enum class Sharing { kReusePort, kExclusive };
int openBoundSocket(Transport transport, const Address& addr, Sharing sharing, std::string* error);

// Sets O_NONBLOCK (a property of the open file, so shared with every dup of `fd`): sockets
// passed in by systemd arrive blocking.
void setNonBlocking(int fd);

// The address a socket is bound to (reads back the port the kernel chose for port 0).
Address localAddress(int fd);

}  // namespace portd::net
