#pragma once

#include <cstdint>

namespace portd::net {

// Counters of one listener on one worker. Only that worker writes them; whoever wants totals
// sums the workers' copies, so the hot path shares no cache line with another thread.
struct ListenerStats {
  uint64_t accepted = 0;
  uint64_t closed = 0;
  uint64_t rejected = 0;  // over max_connections
  uint64_t accept_errors = 0;
  uint64_t idle_timeouts = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t datagrams_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t datagrams_dropped = 0;
};

}  // namespace portd::net
