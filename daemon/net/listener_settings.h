#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "net/faults.h"

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
  // TCP: after a close, how long a connection whose peer may still be sending waits for more
  // of its input (read and dropped) before it closes; 0 = close at once (net/connection.h).
  std::chrono::milliseconds lingering_timeout{5000};
  // TCP: how many connections one peer address may hold on this listener object (its share of
  // the listener's max_connections_per_ip); 0 = no limit.
  uint64_t max_connections_per_ip = 0;
  // UDP: datagrams from these source ports are dropped before the handler sees them, whatever
  // the handler, so that two services cannot be made to answer each other forever.
  std::vector<uint16_t> blocked_source_ports;
  // UDP: replies per second allowed to one source address, and how many may leave at once
  // after a quiet spell (the bucket's size); 0 = no limit.
  uint32_t reply_rate = 0;
  uint32_t reply_burst = 0;
  // Faults injected on purpose ([listener.faults]); a reload changes them in place, for the
  // connections already open too.
  FaultSettings faults;

  bool operator==(const ListenerSettings&) const = default;
  // Equal but for the faults, which a listener object takes on without being replaced.
  bool sameExceptFaults(const ListenerSettings& other) const {
    ListenerSettings copy = other;
    copy.faults = faults;
    return *this == copy;
  }
};

}  // namespace portd::net
