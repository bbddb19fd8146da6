#include "handlers/http/knobs.h"

#include <charconv>

#include "config/duration.h"
#include "handlers/http/field_syntax.h"

namespace portd::handlers::http {

bool parsePercent(std::string_view text, uint32_t* ppm) {
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
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

bool parseStatusValue(std::string_view text, int* out, std::string* error) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < 200 || v > 599) {
    *error = "invalid status \"" + std::string(text) + "\" (expected 200 to 599)";
    return false;
  }
  *out = v;
  return true;
}

bool parseDelayValue(std::string_view text, uint64_t* ms, std::string* error) {
  auto d = config::parseDuration(text, error);
  if (!d) {
    return false;
  }
  *ms = static_cast<uint64_t>(d->count());
  return true;
}

bool parseSizeValue(std::string_view text, uint64_t* bytes, std::string* error) {
  auto s = config::parseSize(text, error);
  if (!s) {
    return false;
  }
  *bytes = *s;
  return true;
}

bool parseBoolValue(std::string_view text, bool* out, std::string* error) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") {
    *out = true;
    return true;
  }
  if (text == "false" || text == "0" || text == "no" || text == "off") {
    *out = false;
    return true;
  }
  *error = "invalid boolean \"" + std::string(text) + "\" (expected true or false)";
  return false;
}

namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

bool percentDecode(std::string_view in, std::string* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) {
        return false;
      }
      int hi = hexDigit(in[i + 1]);
      int lo = hexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) {
        return false;
      }
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool parseEchoKnobs(std::string_view query, const EchoLimits& limits, EchoKnobs* out,
                    std::string* scratch, std::string* error) {
  out->clear();
  scratch->clear();
  // Decoding never lengthens the text, so with this much room the views taken below stay valid
  // while later parameters are decoded behind them.
  scratch->reserve(query.size());
  bool seen_status = false;
  bool seen_delay = false;
  bool seen_size = false;
  bool seen_close = false;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (param.empty()) {
      continue;
    }
    size_t eq = param.find('=');
    size_t name_at = scratch->size();
    if (!percentDecode(param.substr(0, eq), scratch)) {
      *error = "malformed percent-encoding in the query";
      return false;
    }
    std::string_view name(scratch->data() + name_at, scratch->size() - name_at);
    bool known = name == "status" || name == "delay" || name == "size" || name == "close" ||
                 name == "header";
    if (!known) {
      scratch->resize(name_at);
      continue;
    }
    size_t value_at = scratch->size();
    if (!percentDecode(eq == std::string_view::npos ? "" : param.substr(eq + 1), scratch)) {
      *error = "malformed percent-encoding in the query";
      return false;
    }
    std::string_view value(scratch->data() + value_at, scratch->size() - value_at);

    auto once = [&](bool* seen) {
      if (*seen) {
        *error = std::string(name) + ": given more than once";
        return false;
      }
      *seen = true;
      return true;
    };
    if (name == "status") {
      if (!once(&seen_status) ||
          !parseChoices<int>("status", value, parseStatusValue, &out->status, error)) {
        return false;
      }
    } else if (name == "delay") {
      if (!once(&seen_delay) ||
          !parseChoices<uint64_t>("delay", value, parseDelayValue, &out->delay_ms, error)) {
        return false;
      }
      if (out->delay_ms.max() > limits.max_delay_ms) {
        *error = "delay: " + std::to_string(out->delay_ms.max()) + "ms is over max_delay (" +
                 config::formatDuration(config::Duration(limits.max_delay_ms)) + ")";
        return false;
      }
    } else if (name == "size") {
      if (!once(&seen_size) ||
          !parseChoices<uint64_t>("size", value, parseSizeValue, &out->size, error)) {
        return false;
      }
      if (out->size.max() > limits.max_size) {
        *error = "size: " + std::to_string(out->size.max()) + " bytes is over max_size (" +
                 std::to_string(limits.max_size) + " bytes)";
        return false;
      }
    } else if (name == "close") {
      if (!once(&seen_close) ||
          !parseChoices<bool>("close", value, parseBoolValue, &out->close, error)) {
        return false;
      }
    } else {
      // header=Name:Value, or header=Name:Value:PERCENT: a last colon-separated part that is a
      // percentage, after a value, is the header's probability (write ":100" after a value
      // that itself ends in ":digits" to keep it whole).
      uint32_t ppm = kPpm;
      size_t first = value.find(':');
      size_t last = value.rfind(':');
      if (first != std::string_view::npos && last > first &&
          parsePercent(value.substr(last + 1), &ppm)) {
        value = value.substr(0, last);
      } else {
        ppm = kPpm;
      }
      size_t colon = value.find(':');
      std::string_view hname = value.substr(0, colon);
      std::string_view hvalue =
          colon == std::string_view::npos ? std::string_view() : value.substr(colon + 1);
      while (!hvalue.empty() && (hvalue.front() == ' ' || hvalue.front() == '\t')) {
        hvalue.remove_prefix(1);
      }
      if (colon == std::string_view::npos || !isToken(hname) || !isFieldValue(hvalue)) {
        *error = "header: expected header=Name:Value with a valid name and value";
        return false;
      }
      if (isServerManagedField(hname)) {
        *error = "header: " + std::string(hname) + " is set by the server";
        return false;
      }
      if (out->header_count == EchoKnobs::kMaxHeaders) {
        *error = "header: more than " + std::to_string(EchoKnobs::kMaxHeaders) + " headers";
        return false;
      }
      out->header_names[out->header_count] = hname;
      out->header_values[out->header_count] = hvalue;
      out->header_ppm[out->header_count] = ppm;
      ++out->header_count;
    }
  }
  return true;
}

}  // namespace portd::handlers::http
