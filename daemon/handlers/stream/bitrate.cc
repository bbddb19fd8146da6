#include "handlers/stream/bitrate.h"

#include <cmath>

namespace portd::handlers::stream {

namespace {
constexpr double kMin = 1e3;
constexpr double kMax = 100e9;
}  // namespace

std::optional<uint64_t> parseBitrate(std::string_view text, std::string* error) {
  // The number: digits with at most one decimal point, parsed by hand so that the locale and
  // strtod's extras ("1e9", "inf", " 5") cannot slip in.
  size_t i = 0;
  double value = 0;
  double scale = 0;  // 0 before the point, then 0.1, 0.01...
  bool digits = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      digits = true;
      if (scale == 0) {
        value = value * 10 + (c - '0');
      } else {
        value += (c - '0') * scale;
        scale /= 10;
      }
      if (value > kMax) {
        break;
      }
    } else if (c == '.' && scale == 0) {
      scale = 0.1;
    } else {
      break;
    }
  }
  if (!digits) {
    *error = "\"" + std::string(text) + "\" does not start with a number (write e.g. \"10Mbit/s\")";
    return std::nullopt;
  }
  const std::string_view unit = text.substr(i);
  double factor = 0;
  if (unit == "bit/s") {
    factor = 1;
  } else if (unit == "kbit/s" || unit == "Kbit/s") {
    factor = 1e3;
  } else if (unit == "Mbit/s") {
    factor = 1e6;
  } else if (unit == "Gbit/s") {
    factor = 1e9;
  } else {
    *error = "unknown unit \"" + std::string(unit) +
             "\" (write bit/s, kbit/s, Mbit/s or Gbit/s after the number, e.g. \"10Mbit/s\")";
    return std::nullopt;
  }
  const double bits = value * factor;
  if (!(bits >= kMin && bits <= kMax)) {
    *error = "must be between 1kbit/s and 100Gbit/s";
    return std::nullopt;
  }
  return static_cast<uint64_t>(std::llround(bits));
}

}  // namespace portd::handlers::stream
