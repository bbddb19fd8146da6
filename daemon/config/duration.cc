#include "config/duration.h"

#include <charconv>
#include <limits>

namespace portd::config {

namespace {

// Reads the leading decimal digits of `text` into `value`; returns how many characters it used,
// or 0 when there are none or the number overflows.
size_t readNumber(std::string_view text, uint64_t* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  if (ec != std::errc{}) {
    return 0;
  }
  return static_cast<size_t>(end - text.data());
}

}  // namespace

std::optional<Duration> parseDuration(std::string_view text, std::string* error) {
  if (text.empty()) {
    *error = "empty duration (expected e.g. \"250ms\" or \"10s\")";
    return std::nullopt;
  }
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max() / 1000;
  uint64_t total_ms = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    uint64_t n = 0;
    size_t used = readNumber(rest, &n);
    if (used == 0) {
      *error = "invalid duration \"" + std::string(text) +
               "\" (expected e.g. \"250ms\", \"10s\", \"1m30s\")";
      return std::nullopt;
    }
    rest.remove_prefix(used);
    uint64_t scale = 0;
    if (rest.starts_with("ms")) {
      scale = 1;
      rest.remove_prefix(2);
    } else if (rest.starts_with("s")) {
      scale = 1000;
      rest.remove_prefix(1);
    } else if (rest.starts_with("m")) {
      scale = 60 * 1000;
      rest.remove_prefix(1);
    } else if (rest.starts_with("h")) {
      scale = 3600 * 1000;
      rest.remove_prefix(1);
    } else {
      *error =
          "duration \"" + std::string(text) + "\" needs a unit after each number (ms, s, m or h)";
      return std::nullopt;
    }
    if (n > kMax / scale || total_ms + n * scale > kMax) {
      *error = "duration \"" + std::string(text) + "\" is too large";
      return std::nullopt;
    }
    total_ms += n * scale;
  }
  return Duration(static_cast<int64_t>(total_ms));
}

std::string formatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) {
    return "0s";
  }
  std::string out;
  struct Unit {
    int64_t ms;
    const char* suffix;
  };
  for (Unit u : {Unit{3600000, "h"}, Unit{60000, "m"}, Unit{1000, "s"}, Unit{1, "ms"}}) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.suffix;
      ms %= u.ms;
    }
  }
  return out;
}

std::optional<uint64_t> parseSize(std::string_view text, std::string* error) {
  uint64_t n = 0;
  size_t used = readNumber(text, &n);
  if (used == 0) {
    *error =
        "invalid size \"" + std::string(text) + "\" (expected e.g. 65536, \"64KiB\" or \"1MiB\")";
    return std::nullopt;
  }
  std::string_view unit = text.substr(used);
  uint64_t scale = 0;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "KiB") {
    scale = uint64_t{1} << 10;
  } else if (unit == "MiB") {
    scale = uint64_t{1} << 20;
  } else if (unit == "GiB") {
    scale = uint64_t{1} << 30;
  } else {
    *error = "unknown size unit in \"" + std::string(text) + "\" (use B, KiB, MiB or GiB)";
    return std::nullopt;
  }
  // At most INT64_MAX, as a size written as an integer is: every size then prints as a TOML
  // integer (portd check, /config) that reads back as the same value.
  if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / scale) {
    *error = "size \"" + std::string(text) + "\" is too large";
    return std::nullopt;
  }
  return n * scale;
}

}  // namespace portd::config
