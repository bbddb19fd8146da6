#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "load/codec.h"

namespace portd::load {

// An incremental reader of SMTP replies (RFC 5321 4.2): lines of a three-digit code (first
// digit 2 to 5, second 0 to 5), then '-' on every line but the last, ' ' or nothing on the
// last, text, CRLF; every line of a reply has the same code. It keeps no text but the first
// bytes of each line, enough to see EHLO's PIPELINING keyword, so its memory is fixed and the
// bytes may arrive in any pieces. A line over kMaxLine bytes, a reply of more than kMaxLines
// lines, a bare CR or LF, or anything not of that form is malformed.
class SmtpReplyParser {
 public:
  // RFC 5321 4.5.3.1.5 sets 512 bytes; servers write longer EHLO lines, so a margin.
  static constexpr size_t kMaxLine = 4096;
  static constexpr size_t kMaxLines = 256;

  enum class Status { kNeedMore, kReply, kMalformed };

  // Reads `in` up to the end of one reply. *used is how many bytes it took: all of them for
  // kNeedMore, those up to the reply's last byte for kReply. kMalformed sticks until reset().
  Status feed(std::string_view in, size_t* used);
  // After kReply: its code, and whether a line of it was the keyword PIPELINING (in EHLO's
  // reply: the server takes commands in groups, RFC 2920).
  int code() const { return code_; }
  bool pipelining() const { return pipelining_; }
  // Whether some bytes of a reply have been read and its end has not.
  bool inReply() const { return in_reply_; }
  void reset();

 private:
  enum class State : uint8_t { kCode, kSeparator, kText, kLf, kFailed };
  static constexpr size_t kKeep = 11;  // "PIPELINING" and the byte after it

  Status fail(size_t at, size_t* used);
  // The end of a line: false if it is malformed.
  bool endLine();

  State state_ = State::kCode;
  bool in_reply_ = false;
  bool last_ = false;  // the line being read is the reply's last
  bool pipelining_ = false;
  int code_ = 0;
  int line_code_ = 0;
  size_t code_digits_ = 0;
  size_t line_len_ = 0;
  size_t lines_ = 0;
  size_t text_len_ = 0;
  std::array<char, kKeep> text_{};
};

// smtp://: one request is one message through a whole mail transaction on a session that
// stays open: MAIL FROM, RCPT TO, DATA, then after the 354 the message (headers and a body of
// about --size bytes in lines of at most 78 characters, dot-stuffed, ending CRLF.CRLF); the
// answer is the reply after the message. A transaction refused on the way (a 4xx or 5xx to
// MAIL, RCPT or DATA, or after the message) is an answer all the same, with that reply's code
// as its status: it is what the server said. The next transaction then starts with RSET, as
// a refused one may have left the server's half open.
//
// The session is the codec's: it waits for the 220 greeting, sends EHLO (HELO when the server
// does not know EHLO) and reads the reply for PIPELINING. Requests issued before the session
// is ready, or while a message is under way, wait here (a count, no bytes) and are started
// in turn, through takeOutput(). With PIPELINING, MAIL, RCPT and DATA go in one write (RFC
// 2920); without it, one command per reply. After --churn messages it sends QUIT and waits
// for the 221 (RFC 5321 4.1.1.10) before the worker closes; a server that refuses the session
// (a greeting or EHLO answered 4xx/5xx) has each waiting request answered with that code.
class SmtpCodec final : public Codec {
 public:
  explicit SmtpCodec(const LoadOptions& options);

  void request(std::string& out) override;
  Read read(std::string_view in, ResponseSink& sink) override;
  // The session is ending: after QUIT, after a refused session, after a 421.
  bool peerCloses() const override { return closing_; }
  bool canClose() const override { return phase_ != Phase::kQuit; }
  void takeOutput(std::string& out) override;
  void reset() override;

  // Appends a message of about `size` body bytes, dot-stuffed, with its ending CRLF.CRLF:
  // rendered on the fly from a fixed pattern, so that no copy of it is kept per connection.
  static void appendMessage(std::string& out, size_t size);

 private:
  enum class Phase : uint8_t { kGreeting, kHello, kReady, kQuit, kDone };
  // What a reply still to come answers.
  enum class Step : uint8_t { kRset, kMail, kRcpt, kData, kEnd };

  bool onReply(ResponseSink& sink);
  bool onTransactionReply(int code, ResponseSink& sink);
  void startTransaction(std::string& dst);
  void endTransaction(int status, bool need_rset, ResponseSink& sink);
  // The session will not carry messages: every waiting request is answered with `code`.
  void refuse(int code, ResponseSink& sink);
  void quit();
  void expect(Step s);

  size_t message_size_;
  uint64_t churn_;
  SmtpReplyParser parser_;
  std::string pending_;  // what read() decided to send, until takeOutput()

  Phase phase_ = Phase::kGreeting;
  bool helo_ = false;  // EHLO was refused: HELO was sent instead
  bool pipelining_ = false;
  bool closing_ = false;
  bool in_transaction_ = false;
  bool need_rset_ = false;
  bool first_byte_due_ = false;  // the transaction has had no byte of a reply yet
  int status_ = 0;               // the transaction's first refusal (0: none so far)
  uint64_t waiting_ = 0;         // requests issued and not started
  uint64_t messages_ = 0;        // transactions ended on this connection
  std::array<Step, 4> steps_{};  // replies to come, oldest first
  size_t step_head_ = 0;
  size_t step_count_ = 0;
};

}  // namespace portd::load
