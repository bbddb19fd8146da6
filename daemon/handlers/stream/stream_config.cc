#include "handlers/stream/stream_config.h"

#include <string>

#include "handlers/stream/bitrate.h"
#include "handlers/stream/wire.h"

namespace portd::handlers::stream {

namespace {
constexpr uint64_t kHour = 3600 * 1000;
}

Config::Config(const sdk::Options& o) {
  const std::string_view m = o.getString("mode");
  if (m == "sink") {
    mode = Mode::kSink;
  } else if (m == "source") {
    mode = Mode::kSource;
  } else if (m == "sockperf") {
    mode = Mode::kSockperf;
  } else {
    throw sdk::ConfigError("mode: \"" + std::string(m) +
                           "\" is not one of \"sink\", \"source\", \"sockperf\"");
  }
  echo = o.getBool("echo");
  const int64_t peers = o.getInt("max_peers");
  if (peers < 1 || peers > 65536) {
    throw sdk::ConfigError("max_peers: must be between 1 and 65536");
  }
  max_peers = static_cast<size_t>(peers);
  peer_idle_ms = o.getDurationMs("peer_idle");
  if (peer_idle_ms < 10 || peer_idle_ms > kHour) {
    throw sdk::ConfigError("peer_idle: must be between 10ms and 1h");
  }
  packet_size = static_cast<size_t>(o.getSize("packet_size"));
  // 65507: the most a UDP datagram over IPv4 carries.
  if (packet_size < kHeaderSize || packet_size > 65507) {
    throw sdk::ConfigError("packet_size: must be between 24 (the header) and 65507 bytes");
  }
  std::string error;
  const auto rate = parseBitrate(o.getString("bitrate"), &error);
  if (!rate) {
    throw sdk::ConfigError("bitrate: " + error);
  }
  bitrate = *rate;
  duration_ms = o.getDurationMs("duration");
  if (duration_ms < 1 || duration_ms > kHour) {
    throw sdk::ConfigError("duration: must be between 1ms and 1h");
  }
  const int64_t streams = o.getInt("max_streams");
  if (streams < 1 || streams > 4096) {
    throw sdk::ConfigError("max_streams: must be between 1 and 4096");
  }
  max_streams = static_cast<size_t>(streams);
}

const portd_option_def kOptions[] = {
    {"mode", PORTD_OPT_STRING, "\"sink\"",
     "\"sink\" (account received streams), \"source\" (send one to each peer) or \"sockperf\" "
     "(answer sockperf's client)"},
    {"echo", PORTD_OPT_BOOL, "false",
     "sink: send every stream message back unchanged (also asked per message by flag bit 0)"},
    {"max_peers", PORTD_OPT_INT, "1024",
     "sink: UDP peers accounted at once per worker (more are counted in peers_refused), and "
     "peers, UDP or TCP, with series of their own in the metrics"},
    {"peer_idle", PORTD_OPT_DURATION, "\"5s\"",
     "sink, UDP: a peer silent this long is reported in the log and forgotten"},
    {"packet_size", PORTD_OPT_SIZE, "1200", "source: bytes of each message, header included"},
    {"bitrate", PORTD_OPT_STRING, "\"1Mbit/s\"",
     "source: the rate of each stream, e.g. \"10Mbit/s\""},
    {"duration", PORTD_OPT_DURATION, "\"10s\"",
     "source: how long each stream lasts (at most 1h); TCP connections are closed then"},
    {"max_streams", PORTD_OPT_INT, "64",
     "source: streams sent at once per worker; more are refused (streams_refused)"},
};
const size_t kOptionCount = std::size(kOptions);

}  // namespace portd::handlers::stream
