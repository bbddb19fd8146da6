#include "config/duration.h"

#include <charconv>
#include <initializer_list>
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

namespace {

struct Unit {
  std::string_view suffix;
  uint64_t scale;  // in the smallest unit of the table
};

// Parses "<number><unit>" repeated, with units from `units` (longest suffixes first, so that
// "ms" is not read as "m"). Returns the total in the table's smallest unit.
std::optional<uint64_t> parseWithUnits(std::string_view text, std::initializer_list<Unit> units,
                                       std::string_view unit_names, uint64_t max,
                                       std::string* error) {
  if (text.empty()) {
    *error = "empty duration (expected e.g. \"250ms\" or \"10s\")";
    return std::nullopt;
  }
  uint64_t total = 0;
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
    for (const Unit& u : units) {
      if (rest.starts_with(u.suffix)) {
        scale = u.scale;
        rest.remove_prefix(u.suffix.size());
        break;
      }
    }
    if (scale == 0) {
      *error = "duration \"" + std::string(text) + "\" needs a unit after each number (" +
               std::string(unit_names) + ")";
      return std::nullopt;
    }
    if (n > max / scale || total + n * scale > max) {
      *error = "duration \"" + std::string(text) + "\" is too large";
      return std::nullopt;
    }
    total += n * scale;
  }
  return total;
}

}  // namespace

std::optional<Duration> parseDuration(std::string_view text, std::string* error) {
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max() / 1000;
  auto ms = parseWithUnits(text, {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}},
                           "ms, s, m or h", kMax, error);
  if (!ms) {
    return std::nullopt;
  }
  return Duration(static_cast<int64_t>(*ms));
}

std::optional<std::chrono::microseconds> parseFineDuration(std::string_view text,
                                                           std::string* error) {
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max() / 1000;
  auto us = parseWithUnits(text, {{"us", 1}, {"ms", 1000}, {"s", 1000 * 1000}}, "us, ms or s", kMax,
                           error);
  if (!us) {
    return std::nullopt;
  }
  return std::chrono::microseconds(static_cast<int64_t>(*us));
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
