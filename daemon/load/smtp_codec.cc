#include "load/smtp_codec.h"

#include <algorithm>

#include "load/options.h"

namespace portd::load {

namespace {

constexpr std::string_view kEhlo = "EHLO portd.test\r\n";
constexpr std::string_view kHelo = "HELO portd.test\r\n";
constexpr std::string_view kRset = "RSET\r\n";
constexpr std::string_view kMail = "MAIL FROM:<load@portd.test>\r\n";
constexpr std::string_view kRcpt = "RCPT TO:<sink@portd.test>\r\n";
constexpr std::string_view kData = "DATA\r\n";
constexpr std::string_view kQuit = "QUIT\r\n";
constexpr std::string_view kEndOfData = ".\r\n";

constexpr std::string_view kHeaders =
    "From: <load@portd.test>\r\n"
    "To: <sink@portd.test>\r\n"
    "Subject: portd load\r\n"
    "\r\n";
// Body lines are windows onto 64 characters repeated, each line starting 7 further on. Line 0
// starts with the '.', so that every message is dot-stuffed at least once and a server that
// unstuffs wrongly shows it.
constexpr std::string_view kPattern =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-";
constexpr size_t kPeriod = 64;
constexpr size_t kFirstOffset = 62;
constexpr size_t kLineStep = 7;
constexpr size_t kMaxBodyLine = 78;  // RFC 5322 2.1.1's SHOULD
// A line starts anywhere in the first period and must end inside the pattern.
static_assert(kPattern.size() >= kPeriod - 1 + kMaxBodyLine);

bool equalsUpper(const char* text, std::string_view upper) {
  for (size_t i = 0; i < upper.size(); ++i) {
    char ch = text[i];
    if (ch >= 'a' && ch <= 'z') {
      ch = static_cast<char>(ch - 'a' + 'A');
    }
    if (ch != upper[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

// ---- replies

void SmtpReplyParser::reset() {
  state_ = State::kCode;
  in_reply_ = false;
  pipelining_ = false;
  code_ = 0;
  code_digits_ = 0;
  lines_ = 0;
}

SmtpReplyParser::Status SmtpReplyParser::fail(size_t at, size_t* used) {
  state_ = State::kFailed;
  *used = at;
  return Status::kMalformed;
}

bool SmtpReplyParser::endLine() {
  if (++lines_ > kMaxLines) {
    return false;
  }
  // An EHLO keyword is the line's first word: "PIPELINING" alone or before parameters.
  constexpr std::string_view kPipelining = "PIPELINING";
  if (text_len_ >= kPipelining.size() && equalsUpper(text_.data(), kPipelining) &&
      (text_len_ == kPipelining.size() || text_[kPipelining.size()] == ' ')) {
    pipelining_ = true;
  }
  return true;
}

SmtpReplyParser::Status SmtpReplyParser::feed(std::string_view in, size_t* used) {
  size_t i = 0;
  while (i < in.size()) {
    const char ch = in[i];
    switch (state_) {
      case State::kFailed:
        return fail(i, used);

      case State::kCode: {
        if (code_digits_ == 0) {
          if (!in_reply_) {
            in_reply_ = true;
            lines_ = 0;
            pipelining_ = false;
          }
          line_code_ = 0;
          line_len_ = 0;
          text_len_ = 0;
        }
        // RFC 5321 4.2: the first digit is 2 to 5, the second 0 to 5, the third 0 to 9.
        const char lo = code_digits_ == 0 ? '2' : '0';
        const char hi = code_digits_ == 2 ? '9' : '5';
        if (ch < lo || ch > hi) {
          return fail(i, used);
        }
        line_code_ = line_code_ * 10 + (ch - '0');
        ++i;
        ++line_len_;
        if (++code_digits_ == 3) {
          code_digits_ = 0;
          // Every line of a reply carries the same code.
          if (lines_ > 0 && line_code_ != code_) {
            return fail(i - 1, used);
          }
          code_ = line_code_;
          state_ = State::kSeparator;
        }
        break;
      }

      case State::kSeparator:
        if (ch == '-' || ch == ' ') {
          last_ = ch == ' ';
          ++i;
          ++line_len_;
          state_ = State::kText;
        } else if (ch == '\r') {
          last_ = true;  // "250" alone: the last line, without text
          ++i;
          state_ = State::kLf;
        } else {
          return fail(i, used);
        }
        break;

      case State::kText: {
        size_t j = i;
        while (j < in.size() && in[j] != '\r' && in[j] != '\n') {
          ++j;
        }
        for (size_t k = i; k < j && text_len_ + (k - i) < kKeep; ++k) {
          text_[text_len_ + (k - i)] = in[k];
        }
        if (line_len_ + (j - i) > kMaxLine) {
          // At the first byte over the limit, wherever the pieces were cut.
          return fail(i + (kMaxLine - line_len_), used);
        }
        text_len_ += j - i;
        line_len_ += j - i;
        i = j;
        if (i < in.size()) {
          if (in[i] == '\n') {
            return fail(i, used);  // a bare LF: lines end with CRLF
          }
          ++i;
          state_ = State::kLf;
        }
        break;
      }

      case State::kLf:
        if (ch != '\n' || !endLine()) {
          return fail(i, used);
        }
        ++i;
        state_ = State::kCode;
        if (last_) {
          in_reply_ = false;
          *used = i;
          return Status::kReply;
        }
        break;
    }
  }
  if (state_ == State::kFailed) {
    return fail(i, used);
  }
  *used = i;
  return Status::kNeedMore;
}

// ---- the codec

SmtpCodec::SmtpCodec(const LoadOptions& o) : message_size_(o.message_size), churn_(o.churn) {}

void SmtpCodec::reset() {
  parser_.reset();
  pending_.clear();
  phase_ = Phase::kGreeting;
  helo_ = false;
  pipelining_ = false;
  closing_ = false;
  in_transaction_ = false;
  need_rset_ = false;
  first_byte_due_ = false;
  status_ = 0;
  waiting_ = 0;
  messages_ = 0;
  step_head_ = 0;
  step_count_ = 0;
}

void SmtpCodec::appendMessage(std::string& out, size_t size) {
  out += kHeaders;
  size_t remaining = size;
  for (size_t line = 0; remaining > 0; ++line) {
    // Lines of 78 characters and CRLF; the last one at least a character, and the one before
    // it shortened when the last would otherwise be less than that, so that the body is
    // `size` bytes exactly from 3 bytes up.
    size_t n = kMaxBodyLine;
    if (remaining <= kMaxBodyLine + 2) {
      n = remaining > 2 ? remaining - 2 : 1;
    } else if (remaining - (kMaxBodyLine + 2) < 3) {
      n = kMaxBodyLine - 3;
    }
    const size_t off = (kFirstOffset + line * kLineStep) % kPeriod;
    if (kPattern[off] == '.') {
      out += '.';  // dot-stuffing (RFC 5321 4.5.2): the server removes it
    }
    out.append(kPattern.data() + off, n);
    out += "\r\n";
    remaining -= std::min(remaining, n + 2);
  }
  out += kEndOfData;
}

void SmtpCodec::expect(Step s) {
  steps_[(step_head_ + step_count_) % steps_.size()] = s;
  ++step_count_;
}

void SmtpCodec::request(std::string& out) {
  ++waiting_;
  if (phase_ == Phase::kReady && !in_transaction_ && !closing_) {
    // Whatever read() queued goes first.
    startTransaction(pending_.empty() ? out : pending_);
  }
}

void SmtpCodec::takeOutput(std::string& out) {
  if (!pending_.empty()) {
    out += pending_;
    pending_.clear();
  }
}

void SmtpCodec::startTransaction(std::string& dst) {
  --waiting_;
  in_transaction_ = true;
  status_ = 0;
  first_byte_due_ = true;
  step_head_ = 0;
  step_count_ = 0;
  if (need_rset_) {
    dst += kRset;
    expect(Step::kRset);
  }
  // RFC 2920: RSET, MAIL and RCPT may be anywhere in a group, DATA only last.
  if (pipelining_) {
    dst += kMail;
    dst += kRcpt;
    dst += kData;
    expect(Step::kMail);
    expect(Step::kRcpt);
    expect(Step::kData);
  } else if (!need_rset_) {
    dst += kMail;
    expect(Step::kMail);
  }
  need_rset_ = false;
}

void SmtpCodec::endTransaction(int status, bool need_rset, ResponseSink& sink) {
  in_transaction_ = false;
  step_head_ = 0;
  step_count_ = 0;
  need_rset_ = need_rset;
  ++messages_;
  sink.onResponse(status);
  if (closing_) {
    return;  // a 421: the server closes, nothing more is sent
  }
  if (churn_ > 0 && messages_ >= churn_) {
    quit();
  } else if (waiting_ > 0) {
    startTransaction(pending_);
  }
}

void SmtpCodec::quit() {
  pending_ += kQuit;
  phase_ = Phase::kQuit;
  closing_ = true;
}

void SmtpCodec::refuse(int code, ResponseSink& sink) {
  for (; waiting_ > 0; --waiting_) {
    sink.onFirstByte();
    sink.onResponse(code);
  }
  closing_ = true;
  if (code == 421) {
    phase_ = Phase::kDone;  // the server closes on its own
  } else {
    quit();  // RFC 5321 3.1: after a 554 greeting the client sends QUIT
  }
}

Codec::Read SmtpCodec::read(std::string_view in, ResponseSink& sink) {
  while (!in.empty()) {
    if (!parser_.inReply() && in_transaction_ && first_byte_due_) {
      sink.onFirstByte();
      first_byte_due_ = false;
    }
    size_t used = 0;
    const SmtpReplyParser::Status s = parser_.feed(in, &used);
    if (s == SmtpReplyParser::Status::kMalformed) {
      return Read::kMalformed;
    }
    in.remove_prefix(used);
    if (s == SmtpReplyParser::Status::kReply && !onReply(sink)) {
      return Read::kMalformed;
    }
  }
  return Read::kOk;
}

bool SmtpCodec::onReply(ResponseSink& sink) {
  const int code = parser_.code();
  const int cls = code / 100;
  switch (phase_) {
    case Phase::kGreeting:
      if (cls == 2) {
        pending_ += kEhlo;
        phase_ = Phase::kHello;
        return true;
      }
      if (cls == 3) {
        return false;
      }
      refuse(code, sink);
      return true;

    case Phase::kHello:
      if (cls == 2) {
        pipelining_ = !helo_ && parser_.pipelining();
        phase_ = Phase::kReady;
        if (waiting_ > 0) {
          startTransaction(pending_);
        }
        return true;
      }
      if (cls == 3) {
        return false;
      }
      if (cls == 5 && !helo_) {
        // RFC 5321 4.1.4: a server that does not know EHLO is greeted with HELO.
        helo_ = true;
        pending_ += kHelo;
        return true;
      }
      refuse(code, sink);
      return true;

    case Phase::kReady:
      if (in_transaction_ && step_count_ > 0) {
        return onTransactionReply(code, sink);
      }
      if (code == 421) {
        closing_ = true;  // the server gives up on an idle session and closes
        return true;
      }
      return false;  // a reply to nothing

    case Phase::kQuit:
      phase_ = Phase::kDone;  // 221, or not: the session is over either way
      return true;

    case Phase::kDone:
      break;
  }
  return false;
}

bool SmtpCodec::onTransactionReply(int code, ResponseSink& sink) {
  const Step step = steps_[step_head_];
  step_head_ = (step_head_ + 1) % steps_.size();
  --step_count_;
  const int cls = code / 100;
  if (code == 421) {
    closing_ = true;  // RFC 5321 3.8: the server closes after this reply
  }
  switch (step) {
    case Step::kRset:
    case Step::kMail:
    case Step::kRcpt: {
      if (cls == 3) {
        return false;
      }
      if (cls != 2 && status_ == 0) {
        status_ = code;
      }
      if (closing_) {
        endTransaction(status_, true, sink);  // the group's other replies will not come
        return true;
      }
      if (pipelining_) {
        return true;  // the rest of the group was sent: its replies follow whatever this was
      }
      if (status_ != 0) {
        endTransaction(status_, true, sink);
        return true;
      }
      const Step next = step == Step::kRset   ? Step::kMail
                        : step == Step::kMail ? Step::kRcpt
                                              : Step::kData;
      pending_ += next == Step::kMail ? kMail : next == Step::kRcpt ? kRcpt : kData;
      expect(next);
      return true;
    }

    case Step::kData:
      if (code == 354) {
        // After a refused MAIL or RCPT a server should not take DATA (RFC 2920 3.1); one that
        // does gets an empty message, ended at once, and the answer stays the refusal.
        if (status_ == 0) {
          appendMessage(pending_, message_size_);
        } else {
          pending_ += kEndOfData;
        }
        expect(Step::kEnd);
        return true;
      }
      if (cls == 2 || cls == 3) {
        return false;  // DATA goes on with 354 and nothing else
      }
      endTransaction(status_ != 0 ? status_ : code, true, sink);
      return true;

    case Step::kEnd:
      if (cls == 3) {
        return false;
      }
      endTransaction(status_ != 0 ? status_ : code, false, sink);
      return true;
  }
  return false;
}

}  // namespace portd::load
