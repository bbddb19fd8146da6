#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portd::handlers::stream {

// Bits per second from "10Mbit/s", "1.5Gbit/s", "800kbit/s", "64000bit/s" (SI prefixes, as
// iperf3 and sockperf use them: k = 1000). Between 1 kbit/s and 100 Gbit/s; otherwise nothing,
// with the reason in *error.
std::optional<uint64_t> parseBitrate(std::string_view text, std::string* error);

}  // namespace portd::handlers::stream
