#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace portd::handlers::resp {

// RESP2 replies appended to an output buffer that the handler keeps between reads, so that
// once it has grown to a read's worth of answers no reply allocates.
class Reply {
 public:
  explicit Reply(std::string* out) : out_(out) {}

  void simple(std::string_view s) {
    out_->push_back('+');
    out_->append(s);
    out_->append("\r\n", 2);
  }
  void ok() { out_->append("+OK\r\n", 5); }
  // `text` starts with the error's code ("ERR ...", "WRONGTYPE ..."); a CR or LF in it would end
  // the reply early, so they are written as spaces, as Redis does.
  void error(std::string_view text) {
    out_->push_back('-');
    appendSanitized(text);
    out_->append("\r\n", 2);
  }
  void integer(int64_t v) { prefixed(':', v); }
  void bulk(std::string_view s) {
    prefixed('$', static_cast<int64_t>(s.size()));
    out_->append(s);
    out_->append("\r\n", 2);
  }
  void null() { out_->append("$-1\r\n", 5); }
  void nullArray() { out_->append("*-1\r\n", 5); }
  void array(size_t n) { prefixed('*', static_cast<int64_t>(n)); }
  void emptyArray() { out_->append("*0\r\n", 4); }

  // The pieces of an error built in place (see Commands: unknown command).
  void beginError() { out_->push_back('-'); }
  void appendSanitized(std::string_view text) {
    for (char c : text) {
      out_->push_back(c == '\r' || c == '\n' ? ' ' : c);
    }
  }
  void endError() { out_->append("\r\n", 2); }

  std::string& buffer() { return *out_; }

 private:
  void prefixed(char type, int64_t v) {
    char buf[24];
    buf[0] = type;
    auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, v);
    *end++ = '\r';
    *end++ = '\n';
    out_->append(buf, static_cast<size_t>(end - buf));
  }

  std::string* out_;
};

}  // namespace portd::handlers::resp
