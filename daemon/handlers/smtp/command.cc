#include "handlers/smtp/command.h"

#include <array>
#include <charconv>
#include <utility>

namespace portd::handlers::smtp {

namespace {

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool startsWithUpper(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsUpper(s.substr(0, prefix.size()), prefix);
}

constexpr std::array<std::pair<std::string_view, Verb>, 12> kVerbs{{
    {"EHLO", Verb::kEhlo},
    {"HELO", Verb::kHelo},
    {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt},
    {"DATA", Verb::kData},
    {"BDAT", Verb::kBdat},
    {"RSET", Verb::kRset},
    {"NOOP", Verb::kNoop},
    {"QUIT", Verb::kQuit},
    {"VRFY", Verb::kVrfy},
    {"HELP", Verb::kHelp},
    {"EXPN", Verb::kExpn},
}};

// Reads "<...>" at the start of `s` into *path (brackets included) and returns what follows it.
// A quoted local part may hold spaces and '>' ("\"a b\"@x"); outside quotes a path holds no
// space, no bracket and no control character. Bytes above 0x7f pass (SMTPUTF8 addresses).
bool readPath(std::string_view s, std::string_view* path, std::string_view* rest) {
  if (s.empty() || s[0] != '<') {
    return false;
  }
  bool quoted = false;
  for (size_t i = 1; i < s.size() && i < kMaxPath; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
    if (quoted) {
      if (c == '\\') {
        ++i;  // a quoted pair: the next byte is taken as it is
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      *path = s.substr(0, i + 1);
      *rest = s.substr(i + 1);
      return true;
    } else if (c == ' ' || c == '<') {
      return false;
    }
  }
  return false;
}

// The path must be "<>" or hold something that is not only a source route.
bool emptyPath(std::string_view path) { return path.size() == 2; }

bool parseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) {
    return false;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace

bool equalsUpper(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != b[i]) {
      return false;
    }
  }
  return true;
}

Command parseCommand(std::string_view line) {
  const size_t space = line.find(' ');
  const std::string_view verb = line.substr(0, space);
  Command c;
  c.arg = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  for (const auto& [name, v] : kVerbs) {
    if (equalsUpper(verb, name)) {
      c.verb = v;
      break;
    }
  }
  return c;
}

ArgError parseMailFrom(std::string_view arg, MailFrom* out) {
  *out = MailFrom{};
  if (!startsWithUpper(arg, "FROM:")) {
    return ArgError::kSyntax;
  }
  arg.remove_prefix(5);
  // RFC 5321 allows no space after the colon, but many senders write one; Postfix accepts it.
  while (!arg.empty() && arg[0] == ' ') {
    arg.remove_prefix(1);
  }
  std::string_view rest;
  if (!readPath(arg, &out->path, &rest)) {
    return ArgError::kBadPath;
  }
  bool seen_size = false;
  bool seen_body = false;
  while (!rest.empty()) {
    if (rest[0] != ' ') {
      return ArgError::kSyntax;
    }
    rest.remove_prefix(1);
    if (rest.empty()) {
      break;  // trailing space
    }
    const size_t end = rest.find(' ');
    const std::string_view param = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    if (param.empty()) {
      continue;
    }
    const size_t eq = param.find('=');
    const std::string_view key = param.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    if (equalsUpper(key, "SIZE")) {
      if (seen_size || !parseDecimal(value, &out->size)) {
        return ArgError::kBadParamValue;
      }
      seen_size = out->has_size = true;
    } else if (equalsUpper(key, "BODY")) {
      if (seen_body) {
        return ArgError::kBadParamValue;
      }
      seen_body = true;
      if (equalsUpper(value, "7BIT")) {
        out->body = BodyType::k7Bit;
      } else if (equalsUpper(value, "8BITMIME")) {
        out->body = BodyType::k8BitMime;
      } else {
        return ArgError::kBadParamValue;
      }
    } else if (equalsUpper(key, "SMTPUTF8")) {
      if (eq != std::string_view::npos) {
        return ArgError::kBadParamValue;
      }
      out->smtputf8 = true;
    } else {
      return ArgError::kUnknownParam;
    }
  }
  return ArgError::kOk;
}

ArgError parseRcptTo(std::string_view arg, std::string_view* path) {
  if (!startsWithUpper(arg, "TO:")) {
    return ArgError::kSyntax;
  }
  arg.remove_prefix(3);
  while (!arg.empty() && arg[0] == ' ') {
    arg.remove_prefix(1);
  }
  std::string_view rest;
  if (!readPath(arg, path, &rest) || emptyPath(*path)) {
    return ArgError::kBadPath;
  }
  while (!rest.empty() && rest[0] == ' ') {
    rest.remove_prefix(1);
  }
  return rest.empty() ? ArgError::kOk : ArgError::kUnknownParam;
}

bool parseBdat(std::string_view arg, Bdat* out) {
  const size_t space = arg.find(' ');
  if (!parseDecimal(arg.substr(0, space), &out->size)) {
    return false;
  }
  out->last = false;
  if (space == std::string_view::npos) {
    return true;
  }
  const std::string_view rest = arg.substr(space + 1);
  if (equalsUpper(rest, "LAST")) {
    out->last = true;
    return true;
  }
  return false;
}

}  // namespace portd::handlers::smtp
