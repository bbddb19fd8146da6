#pragma once

#include <cstddef>
#include <string_view>

namespace portd::handlers::smtp {

// Reads the body of a DATA command as it arrives, in pieces of any size: removes the dot that
// RFC 5321 4.5.2 puts before a line starting with '.', and finds the end, CRLF "." CRLF. The
// body handed on includes the CRLF of its last line, not the final ".\r\n". Only CRLF ends a
// line; a bare LF or CR is content. It copies nothing: the content goes to `sink` as views of
// the input (and of a static "\r" for a CR held back across two reads).
class DotReader {
 public:
  // Before the first byte of a body (just after the 354 reply).
  void reset() {
    state_ = State::kLineStart;
    done_ = false;
  }
  bool done() const { return done_; }

  // Feeds `in` and calls sink(std::string_view) with the content. Returns how many bytes it
  // used: all of `in`, or up to and including the end marker, after which done() holds.
  template <typename Sink>
  size_t feed(std::string_view in, Sink&& sink);

 private:
  enum class State {
    kLineStart,  // after CRLF, or at the start of the body
    kDot,        // a '.' at the start of a line, held back
    kDotCr,      // ".\r" at the start of a line, both held back
    kText,       // inside a line
    kCr,         // after a CR of the content
  };
  State state_ = State::kLineStart;
  bool done_ = false;
};

template <typename Sink>
size_t DotReader::feed(std::string_view in, Sink&& sink) {
  size_t run = 0;  // start of the content not yet handed on
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    switch (state_) {
      case State::kLineStart:
        if (c == '.') {
          // The dot is never content: stuffing, or the start of the end marker.
          if (i > run) {
            sink(in.substr(run, i - run));
          }
          run = i + 1;
          state_ = State::kDot;
        } else {
          state_ = c == '\r' ? State::kCr : State::kText;
        }
        break;
      case State::kDot:
        if (c == '\r') {
          run = i + 1;  // held back: the end marker, if LF follows
          state_ = State::kDotCr;
        } else {
          state_ = State::kText;  // a stuffed line: its text starts here
        }
        break;
      case State::kDotCr:
        if (c == '\n') {
          done_ = true;
          state_ = State::kLineStart;
          return i + 1;
        }
        // ".\r" then something else: the line "\r..." was stuffed; the CR is content.
        sink(std::string_view("\r"));
        run = i;
        state_ = c == '\r' ? State::kCr : State::kText;
        break;
      case State::kText:
        if (c == '\r') {
          state_ = State::kCr;
        }
        break;
      case State::kCr:
        if (c == '\n') {
          state_ = State::kLineStart;
        } else if (c != '\r') {
          state_ = State::kText;
        }
        break;
    }
  }
  if (in.size() > run) {
    sink(in.substr(run));
  }
  return in.size();
}

}  // namespace portd::handlers::smtp
