#include "handlers/resp/knobs.h"

namespace portd::handlers::resp {

bool parsePercent(std::string_view text, uint32_t* ppm) {
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 3 || fraction.size() > 4 ||
      (dot != std::string_view::npos && fraction.empty())) {
    return false;
  }
  uint32_t value = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  // One percent is 10000 ppm: four decimals are exactly what ppm can hold.
  uint32_t scale = 10000;
  value *= scale;
  for (char c : fraction) {
    if (c < '0' || c > '9') {
      return false;
    }
    scale /= 10;
    value += static_cast<uint32_t>(c - '0') * scale;
  }
  if (value > kPpm) {
    return false;
  }
  *ppm = value;
  return true;
}

}  // namespace portd::handlers::resp
