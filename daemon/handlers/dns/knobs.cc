#include "handlers/dns/knobs.h"

namespace portd::handlers::dns {

namespace {

// Digits "W[.F]" as a number scaled by 10^decimals; false past `decimals` decimals.
bool parseScaled(std::string_view text, int decimals, uint64_t* out) {
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 3 || frac.size() > static_cast<size_t>(decimals) ||
      (dot != std::string_view::npos && frac.empty())) {
    return false;
  }
  uint64_t v = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) {
    scale *= 10;
  }
  v *= scale;
  for (char c : frac) {
    if (c < '0' || c > '9') {
      return false;
    }
    scale /= 10;
    v += static_cast<uint64_t>(c - '0') * scale;
  }
  *out = v;
  return true;
}

}  // namespace

bool parseProbability(std::string_view text, uint32_t* ppm) {
  uint64_t v = 0;
  if (!text.empty() && text.back() == '%') {
    // One percent is 10000 ppm: four decimals.
    if (!parseScaled(text.substr(0, text.size() - 1), 4, &v)) {
      return false;
    }
  } else if (!parseScaled(text, 6, &v)) {
    return false;
  }
  if (v > kPpm) {
    return false;
  }
  *ppm = static_cast<uint32_t>(v);
  return true;
}

}  // namespace portd::handlers::dns
