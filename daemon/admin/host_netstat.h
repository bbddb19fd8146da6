#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace portd::admin {

// The host's TCP figures that no listener sees itself, from /proc/net/netstat: pairs of lines,
// a header ("TcpExt: SyncookiesSent ... ListenOverflows ListenDrops ...") and its values
// ("TcpExt: 0 ... 12 12 ..."). The kernel adds fields between versions, so fields are found by
// name, never by position.

// The value of `field` in group `group` ("TcpExt", "ListenOverflows"), or nullopt when the
// text has no such group or field, or its value is not a number that fits 64 bits.
std::optional<uint64_t> netstatValue(std::string_view text, std::string_view group,
                                     std::string_view field);

// The counters of the network namespace portd runs in (the kernel keeps one set per
// namespace): ListenOverflows (a completed handshake found its listener's accept queue full)
// and ListenDrops (every handshake dropped at a listener, overflows included). Either is
// absent where the file or the field is.
struct HostListenCounters {
  std::optional<uint64_t> overflows;
  std::optional<uint64_t> drops;
};
// /proc/self/net rather than /proc/net: the shipped unit's ProcSubset=pid hides the latter.
HostListenCounters readHostListenCounters(const char* path = "/proc/self/net/netstat");

}  // namespace portd::admin
