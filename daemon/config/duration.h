#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portd::config {

using Duration = std::chrono::milliseconds;

// Parses a duration such as "250ms", "10s", "1m30s" or "2h". Units: ms, s, m, h. Every number
// needs a unit, so that "10" cannot silently mean ten milliseconds to one reader and ten seconds
// to another. Returns nullopt with `error` set when the text is not a valid duration.
std::optional<Duration> parseDuration(std::string_view text, std::string* error);

// A duration to the microsecond, for settings below a millisecond ("50us", "1ms", "2s").
std::optional<std::chrono::microseconds> parseFineDuration(std::string_view text,
                                                           std::string* error);

// Formats a duration in the shortest exact form parseDuration() accepts ("1m30s", "250ms").
std::string formatDuration(Duration d);

// Parses a byte size: an integer with an optional unit B, KiB, MiB or GiB ("64KiB").
std::optional<uint64_t> parseSize(std::string_view text, std::string* error);

}  // namespace portd::config
