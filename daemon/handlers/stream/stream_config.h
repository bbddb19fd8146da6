#pragma once

#include <cstddef>
#include <cstdint>
#include <portd/handler.hpp>

#include "handlers/stream/cookie.h"

namespace portd::handlers::stream {

enum class Mode { kSink, kSource, kSockperf };

// A listener's options, checked (see kOptions in stream_config.cc and docs/stream.md).
struct Config {
  explicit Config(const sdk::Options& o);

  Mode mode = Mode::kSink;
  bool echo = false;
  size_t max_peers = 1024;
  uint64_t peer_idle_ms = 5000;
  size_t packet_size = 1200;
  uint64_t bitrate = 1000000;  // bits per second
  uint64_t duration_ms = 10000;
  size_t max_streams = 64;
  // UDP subscribers prove their address with a cookie first; the key is the listener's own.
  CookieJar cookies;
};

extern const portd_option_def kOptions[];
extern const size_t kOptionCount;

}  // namespace portd::handlers::stream
