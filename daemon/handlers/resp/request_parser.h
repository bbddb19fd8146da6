#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portd::handlers::resp {

// What a request may declare or hold, as Redis bounds it since CVE-2021-32675: a declared
// length is checked before it is believed, and nothing is reserved for what has not arrived.
struct ParserLimits {
  uint64_t max_bulk = 512ull << 20;  // one argument ($N), Redis's proto-max-bulk-len
  uint64_t max_multibulk = 1 << 20;  // arguments of one command (*N)
  size_t max_inline = 64 << 10;      // an inline command, or a *N / $N line, without its end
};

// Reads RESP2 requests: multibulk ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline ("GET k\r\n")
// commands, with Redis's own error texts. It holds no state between calls: a command cut
// short by the end of a read is read again from its start once more bytes came (the handler
// keeps its bytes with Conn::keep), and `need` says how many bytes it takes before that is
// worth trying, so that a large argument arriving in many reads is not re-read each time.
class RequestParser {
 public:
  enum class Status { kCommand, kNeedMore, kError };
  struct Result {
    Status status = Status::kNeedMore;
    size_t used = 0;  // kCommand: the bytes of the command (an empty one is skipped: no args)
    size_t need = 0;  // kNeedMore: the bytes the command needs at least (> input size)
    std::string_view error;  // kError: the reply's text, without '-' and CRLF
  };

  explicit RequestParser(const ParserLimits& limits) : limits_(limits) {}

  // Parses the command at the start of `in`. On kCommand, `args` holds its arguments: views
  // into `in`, or (for inline commands with quotes) into this parser's scratch space; both stay
  // valid until the next call.
  Result parse(std::string_view in, std::vector<std::string_view>* args);

  const ParserLimits& limits() const { return limits_; }
  // The effective bulk limit may be lowered per connection (to what its buffers can hold).
  void setMaxBulk(uint64_t max_bulk) { max_bulk_ = max_bulk; }

 private:
  Result parseMultibulk(std::string_view in, std::vector<std::string_view>* args);
  Result parseInline(std::string_view in, std::vector<std::string_view>* args);
  // Splits one inline line as Redis's sdssplitargs does; false on unbalanced quotes.
  bool splitInline(std::string_view line, std::vector<std::string_view>* args);

  ParserLimits limits_;
  uint64_t max_bulk_ = limits_.max_bulk;
  std::string scratch_;  // unescaped inline arguments; grows once to the longest quoted line
  static constexpr const char* kExpectedDollar = "ERR Protocol error: expected '$', got '";
  char error_buf_[48] = {};
};

// Redis's string2ll(): an optional '-', then digits with no leading zero, fitting an int64.
bool parseInt64(std::string_view text, int64_t* out);

}  // namespace portd::handlers::resp
