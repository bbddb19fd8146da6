#include "handlers/http/field_syntax.h"

#include <array>

namespace portd::handlers::http {

bool isToken(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool isFieldValue(std::string_view value) {
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return false;
    }
  }
  return true;
}

namespace {

// The bytes of a Host value (RFC 3986 reg-name, IP literal, port), as a table: the check runs
// for every request, and a search of the punctuation string per byte cost more than the rest
// of reading the header.
constexpr std::array<bool, 256> kHostBytes = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) {
    t[static_cast<size_t>(c)] = true;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    t[static_cast<size_t>(c)] = true;
    t[static_cast<size_t>(c - 'a' + 'A')] = true;
  }
  for (char c : std::string_view("-._~%!$&'()*+,;=:[]")) {
    t[static_cast<unsigned char>(c)] = true;
  }
  return t;
}();

}  // namespace

bool isHostValue(std::string_view value) {
  for (char c : value) {
    if (!kHostBytes[static_cast<unsigned char>(c)]) {
      return false;
    }
  }
  return true;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    x = (x >= 'A' && x <= 'Z') ? static_cast<char>(x + 32) : x;
    y = (y >= 'A' && y <= 'Z') ? static_cast<char>(y + 32) : y;
    if (x != y) {
      return false;
    }
  }
  return true;
}

bool isServerManagedField(std::string_view name) {
  for (std::string_view managed :
       {"content-length", "transfer-encoding", "connection", "date", "server"}) {
    if (equalsIgnoreCase(name, managed)) {
      return true;
    }
  }
  return false;
}

}  // namespace portd::handlers::http
