#pragma once

#include <bitset>
#include <cstdint>
#include <portd/handler.hpp>

#include "handlers/dns/answer.h"
#include "handlers/dns/knobs.h"
#include "handlers/dns/zone.h"

// A dns listener's options, checked and turned into its zones when the configuration loads.
namespace portd::handlers::dns {

struct DnsConfig {
  explicit DnsConfig(const sdk::Options& o);

  ZoneSet zones;
  AnswerSettings answers;
  std::bitset<65536> blocked_ports;
  uint32_t rrl_rate = 0;
  uint32_t rrl_slip = 2;
  Knobs knobs;
  size_t max_delayed = 0;
};

// Reads a zone file of at most max_bytes: a regular file, opened without blocking (a FIFO or a
// device named by mistake must not hang the daemon's start). Throws sdk::ConfigError naming
// the option.
std::string readZoneFile(const std::string& path, uint64_t max_bytes);

extern const portd_option_def kOptions[];
extern const size_t kOptionCount;

}  // namespace portd::handlers::dns
