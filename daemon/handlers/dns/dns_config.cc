#include "handlers/dns/dns_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "handlers/dns/master_file.h"

namespace portd::handlers::dns {

const portd_option_def kOptions[] = {
    {"zone_file", PORTD_OPT_PATH, "\"\"",
     "a zone in master-file format (RFC 1035 5: $ORIGIN, $TTL, @, parentheses); it may hold "
     "several zones, each starting at its SOA record"},
    {"zone", PORTD_OPT_STRING, "\"\"",
     "master-file text given inline (a TOML multi-line string), read like zone_file; at least "
     "one of the two is required"},
    {"max_zone_size", PORTD_OPT_SIZE, "\"16MiB\"",
     "the largest zone_file (and inline zone) accepted: a bigger one is a configuration error"},
    {"max_zone_records", PORTD_OPT_INT, "100000", "the most records all zones may hold together"},
    {"max_udp_payload", PORTD_OPT_INT, "1232",
     "the largest UDP answer sent to an EDNS client, and the size this server advertises "
     "(512 to 4096; 1232 avoids IP fragmentation, as DNS flag day 2020 advises)"},
    {"blocked_source_ports", PORTD_OPT_INT_LIST, "[7, 13, 17, 19, 37, 53, 123]",
     "UDP source ports never answered (port 0 never is): another DNS server (53) or a service "
     "that answers anything could otherwise be made to trade packets with this one forever"},
    {"rrl_rate", PORTD_OPT_INT, "0",
     "response rate limiting: UDP answers a second to one /24 (IPv4) or /56 (IPv6) network, per "
     "worker; 0 = off"},
    {"rrl_slip", PORTD_OPT_INT, "2",
     "of the answers over rrl_rate, every Nth is sent truncated (TC=1) rather than dropped, so "
     "that a real client can retry over TCP; 0 = drop them all"},
    {"drop_probability", PORTD_OPT_STRING, "\"0\"",
     "fault knob: the chance (\"0.1\" or \"10%\") that a query gets no answer at all"},
    {"servfail_probability", PORTD_OPT_STRING, "\"0\"",
     "fault knob: the chance that a query is answered SERVFAIL"},
    {"truncate_probability", PORTD_OPT_STRING, "\"0\"",
     "fault knob: the chance that a UDP query is answered truncated (TC=1), forcing TCP"},
    {"delay_probability", PORTD_OPT_STRING, "\"0\"",
     "fault knob: the chance that a UDP answer is sent `delay` late"},
    {"delay", PORTD_OPT_DURATION, "\"100ms\"", "how late a delayed answer leaves (at most 60s)"},
    {"max_delayed", PORTD_OPT_INT, "1024",
     "delayed UDP answers waiting per worker; beyond, answers leave at once (and are counted)"},
};
const size_t kOptionCount = std::size(kOptions);

std::string readZoneFile(const std::string& path, uint64_t max_bytes) {
  auto fail = [&](const std::string& why) -> sdk::ConfigError {
    return sdk::ConfigError("zone_file: " + path + ": " + why);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    throw fail(std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw fail(std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw fail("not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    throw fail("larger than max_zone_size (" + std::to_string(max_bytes) + " bytes)");
  }
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw fail(std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    // The file may grow while it is read: the limit holds for what is read, not the stat.
    if (text.size() + static_cast<size_t>(n) > max_bytes) {
      throw fail("larger than max_zone_size (" + std::to_string(max_bytes) + " bytes)");
    }
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

namespace {

uint32_t probability(const sdk::Options& o, const char* name) {
  uint32_t ppm = 0;
  const std::string_view text = o.getString(name);
  if (!parseProbability(text, &ppm)) {
    throw sdk::ConfigError(std::string(name) + ": \"" + std::string(text) +
                           "\" is not a probability (0 to 1, e.g. \"0.25\", or \"25%\")");
  }
  return ppm;
}

}  // namespace

DnsConfig::DnsConfig(const sdk::Options& o) {
  for (int64_t p : o.getIntList("blocked_source_ports")) {
    if (p < 1 || p > 65535) {
      throw sdk::ConfigError("blocked_source_ports: ports must be between 1 and 65535");
    }
    blocked_ports.set(static_cast<size_t>(p));
  }
  const int64_t payload = o.getInt("max_udp_payload");
  if (payload < 512 || payload > 4096) {
    throw sdk::ConfigError("max_udp_payload: must be between 512 and 4096");
  }
  answers.max_udp_payload = static_cast<uint16_t>(payload);
  const int64_t rate = o.getInt("rrl_rate");
  if (rate < 0 || rate > 1'000'000) {
    throw sdk::ConfigError("rrl_rate: must be between 0 (off) and 1000000");
  }
  rrl_rate = static_cast<uint32_t>(rate);
  const int64_t slip = o.getInt("rrl_slip");
  if (slip < 0 || slip > 10) {
    throw sdk::ConfigError("rrl_slip: must be between 0 (drop every answer over the rate) and 10");
  }
  rrl_slip = static_cast<uint32_t>(slip);
  knobs.drop_ppm = probability(o, "drop_probability");
  knobs.servfail_ppm = probability(o, "servfail_probability");
  knobs.truncate_ppm = probability(o, "truncate_probability");
  knobs.delay_ppm = probability(o, "delay_probability");
  knobs.delay_ms = o.getDurationMs("delay");
  if (knobs.delay_ms > 60'000) {
    throw sdk::ConfigError("delay: must be at most 60s");
  }
  const int64_t delayed = o.getInt("max_delayed");
  if (delayed < 0 || delayed > 65536) {
    throw sdk::ConfigError("max_delayed: must be between 0 and 65536");
  }
  max_delayed = static_cast<size_t>(delayed);

  const uint64_t max_size = o.getSize("max_zone_size");
  const int64_t max_records = o.getInt("max_zone_records");
  if (max_records < 1 || max_records > 10'000'000) {
    throw sdk::ConfigError("max_zone_records: must be between 1 and 10000000");
  }
  const std::string path(o.getString("zone_file"));
  const std::string_view inline_zone = o.getString("zone");
  if (path.empty() && inline_zone.empty()) {
    throw sdk::ConfigError("zone_file: give a zone file, or the zone's text in `zone`");
  }
  if (inline_zone.size() > max_size) {
    throw sdk::ConfigError("zone: larger than max_zone_size (" + std::to_string(max_size) +
                           " bytes)");
  }
  std::vector<Record> records;
  try {
    if (!path.empty()) {
      parseMasterFile(readZoneFile(path, max_size), path, static_cast<size_t>(max_records),
                      &records);
    }
    if (!inline_zone.empty()) {
      parseMasterFile(inline_zone, "zone", static_cast<size_t>(max_records), &records);
    }
    zones = ZoneSet::build(std::move(records));
  } catch (const sdk::ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw sdk::ConfigError(e.what());
  }
}

}  // namespace portd::handlers::dns
