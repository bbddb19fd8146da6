#include "handlers/smtp/session.h"

#include <algorithm>
#include <charconv>

#include "handlers/smtp/command.h"

namespace portd::handlers::smtp {

namespace {

using Action = FeedResult::Action;

// Replies with the enhanced status codes of RFC 3463, which EHLO advertises (RFC 2034).
constexpr std::string_view kOk = "250 2.0.0 Ok\r\n";
constexpr std::string_view kMailOk = "250 2.1.0 Ok\r\n";
constexpr std::string_view kRcptOk = "250 2.1.5 Ok\r\n";
constexpr std::string_view kQueued = "250 2.0.0 Ok: queued\r\n";
constexpr std::string_view kStartData = "354 End data with <CR><LF>.<CR><LF>\r\n";
constexpr std::string_view kBye = "221 2.0.0 Bye\r\n";
constexpr std::string_view kVrfy =
    "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n";
constexpr std::string_view kHelp =
    "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\r\n";
constexpr std::string_view kHelpChunking =
    "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP\r\n";
constexpr std::string_view kTooManyRecipients = "452 4.5.3 Error: too many recipients\r\n";
constexpr std::string_view kLocalError = "451 4.3.0 Error: local error in processing\r\n";
constexpr std::string_view kUnknown = "500 5.5.2 Error: command not recognized\r\n";
constexpr std::string_view kLineTooLong = "500 5.5.2 Error: line too long\r\n";
constexpr std::string_view kSyntax = "501 5.5.4 Syntax error in parameters or arguments\r\n";
constexpr std::string_view kHeloSyntax = "501 5.5.4 Syntax: EHLO hostname\r\n";
constexpr std::string_view kBadSender = "501 5.1.7 Bad sender address syntax\r\n";
constexpr std::string_view kBadRecipient = "501 5.1.3 Bad recipient address syntax\r\n";
constexpr std::string_view kNotImplemented = "502 5.5.1 Error: command not implemented\r\n";
constexpr std::string_view kSequence = "503 5.5.1 Error: bad sequence of commands\r\n";
constexpr std::string_view kHeloFirst = "503 5.5.1 Error: send HELO/EHLO first\r\n";
constexpr std::string_view kNestedMail = "503 5.5.1 Error: nested MAIL command\r\n";
constexpr std::string_view kNeedMail = "503 5.5.1 Error: need MAIL command\r\n";
constexpr std::string_view kNoRecipients = "554 5.5.1 Error: no valid recipients\r\n";
constexpr std::string_view kTooLarge =
    "552 5.3.4 Message size exceeds fixed maximum message size\r\n";
constexpr std::string_view kUnsupportedParam = "555 5.5.4 Unsupported option\r\n";

// The reply to a MAIL or RCPT argument that parseMailFrom() or parseRcptTo() refused.
std::string_view refusal(ArgError e, std::string_view bad_path) {
  switch (e) {
    case ArgError::kBadPath:
      return bad_path;
    case ArgError::kUnknownParam:
      return kUnsupportedParam;
    case ArgError::kOk:
    case ArgError::kSyntax:
    case ArgError::kBadParamValue:
      break;
  }
  return kSyntax;
}

void appendNumber(std::string& out, uint64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

}  // namespace

void SessionConfig::prepare() {
  greeting = "220 " + hostname + " ESMTP portd\r\n";
  helo = "250 " + hostname + "\r\n";
  ehlo = "250-" + hostname + "\r\n250-PIPELINING\r\n250-SIZE " + std::to_string(max_message_size) +
         "\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n";
  if (chunking) {
    ehlo += "250-CHUNKING\r\n";
  }
  ehlo += "250 SMTPUTF8\r\n";
  closing = "421 4.3.2 " + hostname + " Service not available, closing transmission channel\r\n";
}

void Session::reply(std::string& out, std::string_view text) {
  out += text;
  if (text[0] == '4') {
    hooks_.count(Event::kReply4xx, 1);
  } else if (text[0] == '5') {
    hooks_.count(Event::kReply5xx, 1);
  }
}

bool Session::proceed(Stage stage, std::string& out, Step* step) {
  const Fault f = hooks_.fault(stage);
  if (f.kind == Fault::Kind::kDisconnect) {
    hooks_.count(Event::kFaultDisconnect, 1);
    resetTransaction();
    state_ = State::kClosed;
    step->action = Action::kDisconnect;
    return false;
  }
  if (f.delay_ms > 0) {
    hooks_.count(Event::kFaultDelay, 1);
    delay_ms_ = f.delay_ms;
    delay_mark_ = out.size();
  }
  if (f.kind == Fault::Kind::kClose421 || (f.kind == Fault::Kind::kReply && f.code == 421)) {
    hooks_.count(Event::kFault421, 1);
    reply(out, config_.closing);
    resetTransaction();
    state_ = State::kClosed;
    step->action = Action::kClose;
    return false;
  }
  if (f.kind == Fault::Kind::kReply) {
    hooks_.count(Event::kFaultReply, 1);
    const size_t start = out.size();
    appendNumber(out, static_cast<uint64_t>(f.code));
    out += ' ';
    out += static_cast<char>('0' + f.code / 100);
    out += ".0.0 Error: injected fault\r\n";
    hooks_.count(out[start] == '4' ? Event::kReply4xx : Event::kReply5xx, 1);
    step->action = Action::kMore;
    return false;
  }
  return true;
}

FeedResult Session::finish(size_t consumed, const Step& step) {
  FeedResult r;
  r.consumed = consumed;
  r.action = step.action;
  if (delay_ms_ > 0 && step.action != Action::kDisconnect) {
    r.action = Action::kDelay;
    r.delay_ms = delay_ms_;
    r.delayed_from = delay_mark_;
    r.close_after = step.action == Action::kClose;
  }
  delay_ms_ = 0;
  return r;
}

FeedResult Session::open(std::string& out) {
  hooks_.count(Event::kSession, 1);
  Step step;
  if (proceed(Stage::kGreeting, out, &step)) {
    out += config_.greeting;
  } else if (step.action == Action::kMore) {
    state_ = State::kRejected;  // RFC 5321 3.1: wait for QUIT, refuse the rest
  }
  return finish(0, step);
}

void Session::close() {
  resetTransaction();
  state_ = State::kClosed;
}

void Session::resetTransaction() {
  if (in_message_) {
    in_message_ = false;
    hooks_.endMessage(false);
  }
  recipients_ = 0;
  bdat_used_ = false;
  too_large_ = false;
  size_ = 0;
}

void Session::body(std::string_view bytes) {
  size_ += bytes.size();
  if (size_ > config_.max_message_size) {
    too_large_ = true;
  }
  // Past the limit the rest is read and dropped: the message is refused at its end (552).
  if (!too_large_ && !bytes.empty()) {
    hooks_.messageBody(bytes);
  }
}

FeedResult Session::feed(std::string_view in, std::string& out) {
  size_t pos = 0;
  while (pos < in.size()) {
    if (state_ == State::kClosed) {
      return FeedResult{in.size(), Action::kMore};
    }
    if (out.size() >= kOutputBound) {
      return FeedResult{pos, Action::kFull};
    }
    Step step;
    if (state_ == State::kData) {
      pos += dot_.feed(in.substr(pos), [this](std::string_view b) { body(b); });
      if (!dot_.done()) {
        continue;
      }
      step = endOfMessage(out);
    } else if (state_ == State::kBdat) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left_, in.size() - pos));
      if (!chunk_refused_) {
        body(in.substr(pos, take));
      }
      pos += take;
      chunk_left_ -= take;
      if (chunk_left_ > 0) {
        continue;
      }
      step = endOfChunk(out);
    } else if (discarding_) {
      const size_t nl = in.find('\n', pos);
      pos = nl == std::string_view::npos ? in.size() : nl + 1;
      discarding_ = nl == std::string_view::npos;
      continue;
    } else {
      const std::string_view window = in.substr(pos, config_.max_line);
      const size_t nl = window.find('\n');
      if (nl == std::string_view::npos) {
        if (window.size() < config_.max_line) {
          return FeedResult{pos, Action::kMore};  // a partial line: the caller keeps it
        }
        // Answered now, and the rest of the line skipped as it comes: never kept whole.
        hooks_.count(Event::kLineTooLong, 1);
        reply(out, kLineTooLong);
        discarding_ = true;
        pos += window.size();
        continue;
      }
      std::string_view line = window.substr(0, nl);
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      pos += nl + 1;
      step = command(line, out);
    }
    if (delay_ms_ > 0 || step.action != Action::kMore) {
      return finish(pos, step);
    }
  }
  return FeedResult{pos, Action::kMore};
}

Session::Step Session::command(std::string_view line, std::string& out) {
  hooks_.count(Event::kCommand, 1);
  const Command c = parseCommand(line);
  Step step;
  if (state_ == State::kRejected && c.verb != Verb::kQuit) {
    reply(out, kSequence);
    return step;
  }
  switch (c.verb) {
    case Verb::kEhlo:
    case Verb::kHelo:
      if (c.arg.empty()) {
        reply(out, kHeloSyntax);
      } else if (proceed(Stage::kEhlo, out, &step)) {
        resetTransaction();  // RFC 5321 4.1.4: EHLO clears the transaction like RSET
        state_ = State::kReady;
        out += c.verb == Verb::kEhlo ? config_.ehlo : config_.helo;
      }
      return step;
    case Verb::kMail:
      return mail(c.arg, out);
    case Verb::kRcpt:
      return rcpt(c.arg, out);
    case Verb::kData:
      return data(c.arg, out);
    case Verb::kBdat:
      if (!config_.chunking) {
        reply(out, kUnknown);
        return step;
      }
      return bdat(c.arg, out);
    case Verb::kRset:
      if (!c.arg.empty()) {
        reply(out, kSyntax);
        return step;
      }
      resetTransaction();
      if (state_ != State::kConnected) {
        state_ = State::kReady;
      }
      reply(out, kOk);
      return step;
    case Verb::kNoop:
      reply(out, kOk);
      return step;
    case Verb::kQuit:
      if (!c.arg.empty()) {
        reply(out, kSyntax);
      } else if (proceed(Stage::kQuit, out, &step)) {
        reply(out, kBye);
        resetTransaction();
        state_ = State::kClosed;
        step.action = Action::kClose;
      }
      return step;
    case Verb::kVrfy:
      reply(out, c.arg.empty() ? kSyntax : kVrfy);
      return step;
    case Verb::kHelp:
      reply(out, config_.chunking ? kHelpChunking : kHelp);
      return step;
    case Verb::kExpn:
      reply(out, kNotImplemented);
      return step;
    case Verb::kUnknown:
      break;
  }
  reply(out, kUnknown);
  return step;
}

Session::Step Session::mail(std::string_view arg, std::string& out) {
  Step step;
  if (state_ == State::kConnected) {
    reply(out, kHeloFirst);
    return step;
  }
  if (state_ != State::kReady) {
    reply(out, kNestedMail);
    return step;
  }
  MailFrom from;
  if (const ArgError e = parseMailFrom(arg, &from); e != ArgError::kOk) {
    reply(out, refusal(e, kBadSender));
    return step;
  }
  // RFC 1870: a declared size over the limit is refused before any data is sent.
  if (from.has_size && from.size > config_.max_message_size) {
    hooks_.count(Event::kTooLarge, 1);
    reply(out, kTooLarge);
    return step;
  }
  if (proceed(Stage::kMail, out, &step)) {
    state_ = State::kMail;
    recipients_ = 0;
    reply(out, kMailOk);
  }
  return step;
}

Session::Step Session::rcpt(std::string_view arg, std::string& out) {
  Step step;
  if (state_ != State::kMail && state_ != State::kRcpt) {
    reply(out, kNeedMail);
    return step;
  }
  if (bdat_used_) {
    reply(out, kSequence);  // RFC 3030: recipients come before the first chunk
    return step;
  }
  std::string_view path;
  if (const ArgError e = parseRcptTo(arg, &path); e != ArgError::kOk) {
    reply(out, refusal(e, kBadRecipient));
    return step;
  }
  if (recipients_ >= config_.max_recipients) {
    hooks_.count(Event::kTooManyRecipients, 1);
    reply(out, kTooManyRecipients);
    return step;
  }
  if (proceed(Stage::kRcpt, out, &step)) {
    ++recipients_;
    hooks_.count(Event::kRecipient, 1);
    state_ = State::kRcpt;
    reply(out, kRcptOk);
  }
  return step;
}

Session::Step Session::data(std::string_view arg, std::string& out) {
  Step step;
  if (!arg.empty()) {
    reply(out, kSyntax);
    return step;
  }
  if (state_ == State::kMail) {
    reply(out, kNoRecipients);
    return step;
  }
  if (state_ != State::kRcpt || bdat_used_) {
    reply(out, kSequence);
    return step;
  }
  if (!proceed(Stage::kData, out, &step)) {
    return step;
  }
  if (!hooks_.beginMessage()) {
    hooks_.count(Event::kDeliveryFailed, 1);
    reply(out, kLocalError);
    resetTransaction();
    state_ = State::kReady;
    return step;
  }
  in_message_ = true;
  size_ = 0;
  too_large_ = false;
  dot_.reset();
  state_ = State::kData;
  reply(out, kStartData);
  return step;
}

Session::Step Session::bdat(std::string_view arg, std::string& out) {
  Step step;
  Bdat b;
  if (!parseBdat(arg, &b)) {
    reply(out, kSyntax);  // the chunk's length is unknown: what follows is read as commands
    return step;
  }
  chunk_size_ = chunk_left_ = b.size;
  chunk_last_ = b.last;
  chunk_refused_ = false;
  chunk_return_ = state_;
  // RFC 3030 2: a refused BDAT's chunk is still read, and thrown away.
  if (state_ != State::kRcpt) {
    chunk_refused_ = true;
    chunk_refusal_ = state_ == State::kMail ? kNoRecipients : kSequence;
  } else if (!bdat_used_) {
    if (hooks_.beginMessage()) {
      in_message_ = true;
      bdat_used_ = true;
      size_ = 0;
      too_large_ = false;
    } else {
      hooks_.count(Event::kDeliveryFailed, 1);
      resetTransaction();
      chunk_refused_ = true;
      chunk_refusal_ = kLocalError;
      chunk_return_ = State::kReady;
    }
  }
  if (b.size == 0) {
    return endOfChunk(out);
  }
  state_ = State::kBdat;
  return step;
}

Session::Step Session::endOfChunk(std::string& out) {
  if (chunk_refused_) {
    state_ = chunk_return_;
    reply(out, chunk_refusal_);
    return Step{};
  }
  if (chunk_last_) {
    return endOfMessage(out);
  }
  state_ = State::kRcpt;
  out += "250 2.0.0 ";
  appendNumber(out, chunk_size_);
  out += " octets received\r\n";
  return Step{};
}

Session::Step Session::endOfMessage(std::string& out) {
  Step step;
  if (too_large_) {
    hooks_.count(Event::kTooLarge, 1);
    resetTransaction();
    state_ = State::kReady;
    reply(out, kTooLarge);
    return step;
  }
  if (!proceed(Stage::kDataEnd, out, &step)) {
    resetTransaction();  // refused or cut off: the message is thrown away
    if (state_ != State::kClosed) {
      state_ = State::kReady;
    }
    return step;
  }
  in_message_ = false;
  const uint64_t size = size_;
  if (hooks_.endMessage(true)) {
    hooks_.count(Event::kMessage, 1);
    hooks_.count(Event::kMessageBytes, size);
    reply(out, kQueued);
  } else {
    hooks_.count(Event::kDeliveryFailed, 1);
    reply(out, kLocalError);
  }
  resetTransaction();
  state_ = State::kReady;
  return step;
}

}  // namespace portd::handlers::smtp
