#pragma once

#include <string>
#include <string_view>

namespace portd::admin {

// A label value for the text exposition format 0.0.4: backslash, double quote and line feed
// are escaped, as the format requires; everything else (UTF-8 included) is written as it is.
inline std::string escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace portd::admin
