#include "handlers/resp/request_parser.h"

#include <algorithm>
#include <cstring>

namespace portd::handlers::resp {

namespace {

using Result = RequestParser::Result;
using Status = RequestParser::Status;

Result needMore(size_t need) { return Result{Status::kNeedMore, 0, need, {}}; }
Result error(std::string_view text) { return Result{Status::kError, 0, 0, text}; }

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hexValue(char c) {
  if (c <= '9') {
    return c - '0';
  }
  return (c | 0x20) - 'a' + 10;
}
// isspace() in the C locale, which Redis uses to skip between inline arguments.
bool isSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// The texts Redis 7 answers; the connection closes after each.
constexpr std::string_view kInvalidMultibulk = "ERR Protocol error: invalid multibulk length";
constexpr std::string_view kInvalidBulk = "ERR Protocol error: invalid bulk length";
constexpr std::string_view kBigCount = "ERR Protocol error: too big mbulk count string";
constexpr std::string_view kBigBulkCount = "ERR Protocol error: too big bulk count string";
constexpr std::string_view kBigInline = "ERR Protocol error: too big inline request";
constexpr std::string_view kUnbalanced = "ERR Protocol error: unbalanced quotes in request";

}  // namespace

bool parseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) {
    return false;
  }
  if (s == "0") {
    *out = 0;
    return true;
  }
  bool negative = s[0] == '-';
  size_t i = negative ? 1 : 0;
  if (i >= s.size() || s[i] < '1' || s[i] > '9') {
    return false;
  }
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return false;
    }
    v = v * 10 + d;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) {
      return false;
    }
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) {
      return false;
    }
    *out = static_cast<int64_t>(v);
  }
  return true;
}

Result RequestParser::parse(std::string_view in, std::vector<std::string_view>* args) {
  args->clear();
  if (in.empty()) {
    return needMore(1);
  }
  return in[0] == '*' ? parseMultibulk(in, args) : parseInline(in, args);
}

Result RequestParser::parseMultibulk(std::string_view in, std::vector<std::string_view>* args) {
  // Like Redis, a line is complete once its '\r' and one byte after it arrived; that byte is
  // not looked at.
  // Redis looks at the length of a line only while its end has not come, so whether a long
  // line passes depends on where reads split it; here a line over the limit is refused
  // either way, so that the answer depends on the bytes alone.
  size_t cr = in.find('\r', 1);
  if (cr == std::string_view::npos || cr > limits_.max_inline) {
    return std::min(cr, in.size()) > limits_.max_inline ? error(kBigCount)
                                                        : needMore(in.size() + 1);
  }
  if (cr + 1 >= in.size()) {
    return needMore(cr + 2);
  }
  int64_t count = 0;
  if (!parseInt64(in.substr(1, cr - 1), &count) ||
      count > static_cast<int64_t>(limits_.max_multibulk)) {
    return error(kInvalidMultibulk);
  }
  size_t pos = cr + 2;
  // "*0" and "*-1" are commands of no arguments, which Redis skips without a reply.
  for (int64_t i = 0; i < count; ++i) {
    if (pos >= in.size()) {
      return needMore(pos + 1);
    }
    cr = in.find('\r', pos);
    if (cr == std::string_view::npos || cr - pos > limits_.max_inline) {
      return std::min(cr, in.size()) - pos > limits_.max_inline ? error(kBigBulkCount)
                                                                : needMore(in.size() + 1);
    }
    if (cr + 1 >= in.size()) {
      return needMore(cr + 2);
    }
    if (in[pos] != '$') {
      // A CR or LF would break the reply line: Redis writes them as spaces too.
      const char got = in[pos] == '\n' ? ' ' : in[pos];
      const size_t n = std::strlen(kExpectedDollar);
      std::memcpy(error_buf_, kExpectedDollar, n);
      error_buf_[n] = got;
      error_buf_[n + 1] = '\'';
      return error(std::string_view(error_buf_, n + 2));
    }
    int64_t len = 0;
    if (!parseInt64(in.substr(pos + 1, cr - pos - 1), &len) || len < 0 ||
        static_cast<uint64_t>(len) > max_bulk_) {
      return error(kInvalidBulk);
    }
    pos = cr + 2;
    const size_t end = pos + static_cast<size_t>(len) + 2;
    if (in.size() < end) {
      return needMore(end);
    }
    // As in Redis, the two bytes after the argument are skipped, not checked.
    args->push_back(in.substr(pos, static_cast<size_t>(len)));
    pos = end;
  }
  return Result{Status::kCommand, pos, 0, {}};
}

Result RequestParser::parseInline(std::string_view in, std::vector<std::string_view>* args) {
  const size_t lf = in.find('\n');
  if (lf == std::string_view::npos || lf > limits_.max_inline) {
    return std::min(lf, in.size()) > limits_.max_inline ? error(kBigInline)
                                                        : needMore(in.size() + 1);
  }
  std::string_view line = in.substr(0, lf);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  // Redis splits the line as a C string: a NUL ends it.
  line = line.substr(0, line.find('\0'));
  if (!splitInline(line, args)) {
    return error(kUnbalanced);
  }
  return Result{Status::kCommand, lf + 1, 0, {}};
}

bool RequestParser::splitInline(std::string_view line, std::vector<std::string_view>* args) {
  const size_t n = line.size();
  if (line.find_first_of("\"'") == std::string_view::npos) {
    // No quotes: every argument is a piece of the line itself.
    size_t p = 0;
    while (true) {
      while (p < n && isSpace(line[p])) {
        ++p;
      }
      if (p == n) {
        return true;
      }
      size_t start = p;
      while (p < n && line[p] != ' ' && line[p] != '\n' && line[p] != '\r' && line[p] != '\t') {
        ++p;
      }
      args->push_back(line.substr(start, p - start));
      if (p < n) {
        ++p;
      }
    }
  }
  // Unescaped text is never longer than the line, so with this much room the views taken into
  // scratch_ stay valid while later arguments are appended behind them.
  scratch_.clear();
  if (scratch_.capacity() < n) {
    scratch_.reserve(n);
  }
  auto at = [&](size_t i) { return i < n ? line[i] : '\0'; };
  size_t p = 0;
  while (true) {
    while (p < n && isSpace(line[p])) {
      ++p;
    }
    if (p == n) {
      return true;
    }
    const size_t start = scratch_.size();
    bool inq = false;
    bool insq = false;
    bool done = false;
    while (!done) {
      const char c = at(p);
      if (inq) {
        if (c == '\\' && at(p + 1) == 'x' && isHex(at(p + 2)) && isHex(at(p + 3))) {
          scratch_.push_back(static_cast<char>(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3))));
          p += 3;
        } else if (c == '\\' && p + 1 < n) {
          ++p;
          switch (line[p]) {
            case 'n':
              scratch_.push_back('\n');
              break;
            case 'r':
              scratch_.push_back('\r');
              break;
            case 't':
              scratch_.push_back('\t');
              break;
            case 'b':
              scratch_.push_back('\b');
              break;
            case 'a':
              scratch_.push_back('\a');
              break;
            default:
              scratch_.push_back(line[p]);
              break;
          }
        } else if (c == '"') {
          // The closing quote must end the argument.
          if (p + 1 < n && !isSpace(line[p + 1])) {
            return false;
          }
          done = true;
        } else if (p >= n) {
          return false;
        } else {
          scratch_.push_back(c);
        }
      } else if (insq) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          scratch_.push_back('\'');
        } else if (c == '\'') {
          if (p + 1 < n && !isSpace(line[p + 1])) {
            return false;
          }
          done = true;
        } else if (p >= n) {
          return false;
        } else {
          scratch_.push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            inq = true;
            break;
          case '\'':
            insq = true;
            break;
          default:
            scratch_.push_back(c);
            break;
        }
      }
      if (p < n) {
        ++p;
      }
    }
    args->push_back(std::string_view(scratch_.data() + start, scratch_.size() - start));
  }
}

}  // namespace portd::handlers::resp
