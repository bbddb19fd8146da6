#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace portd::net {

// What a listener object needs to know of its configuration: a few values copied out of the
// configuration (config/ builds them), so that net/ depends on nothing above it.
struct ListenerSettings {
  std::string name;
  // TCP: how many connections this listener object admits (its share of the listener's
  // max_connections).
  uint64_t max_connections = UINT64_MAX;
  // TCP: a connection with no byte read or written for this long is closed; 0 = never.
  std::chrono::milliseconds idle_timeout{0};
  // TCP: reading stops while more than this much output is queued for a connection, and
  // resumes once the queue is down to half.
  uint64_t write_buffer_limit = 1 << 20;
  // TCP: how many connections one peer address may hold on this listener object (its share of
  // the listener's max_connections_per_ip); 0 = no limit.
  uint64_t max_connections_per_ip = 0;

  bool operator==(const ListenerSettings&) const = default;
};

}  // namespace portd::net
