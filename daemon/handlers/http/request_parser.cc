#include "handlers/http/request_parser.h"

#include <spdlog/spdlog.h>

#include "handlers/http/field_syntax.h"

namespace portd::handlers::http {

namespace {

RequestParser* parserOf(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }

bool isHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool isTokenChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The extensions of one chunk-size line are bounded, since they are read and dropped: a peer
// must not keep a connection busy with them.
constexpr size_t kMaxChunkExtension = 4096;

// Trailing spaces and tabs are not part of a field value (RFC 9110 5.5); llhttp drops the
// leading ones only.
void trimTrailingWhitespace(std::string& s, size_t from) {
  size_t end = s.size();
  while (end > from && (s[end - 1] == ' ' || s[end - 1] == '\t')) {
    --end;
  }
  s.resize(end);
}

}  // namespace

// Callbacks return HPE_PAUSED at the end of the head and of the message, so that
// llhttp_execute() returns with the exact position (llhttp_get_error_pos()): the head's size is
// then known exactly, the bytes before it can be checked, and the caller can act between the
// head and the body and stop right after a request. They return -1 to refuse a request, after
// refuse() has recorded the status.
const llhttp_settings_t& RequestParser::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t x;
    llhttp_settings_init(&x);
    x.on_message_begin = &RequestParser::onMessageBegin;
    x.on_url = &RequestParser::onUrl;
    x.on_header_field = &RequestParser::onHeaderField;
    x.on_header_field_complete = &RequestParser::onHeaderFieldComplete;
    x.on_header_value = &RequestParser::onHeaderValue;
    x.on_header_value_complete = &RequestParser::onHeaderValueComplete;
    x.on_headers_complete = &RequestParser::onHeadersComplete;
    x.on_chunk_header = &RequestParser::onChunkHeader;
    x.on_chunk_complete = &RequestParser::onChunkComplete;
    x.on_body = &RequestParser::onBody;
    x.on_message_complete = &RequestParser::onMessageComplete;
    return x;
  }();
  return s;
}

RequestParser::RequestParser(const HttpLimits& limits) : limits_(limits) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings());
  parser_.data = this;
}

void RequestParser::reset() {
  if (llhttp_used_) {
    llhttp_init(&parser_, HTTP_REQUEST, &settings());
    parser_.data = this;
    llhttp_used_ = false;
  }
  event_ = Event::kNone;
  began_ = false;
  failed_ = 0;
  in_head_ = false;
  at_boundary_ = true;
  simple_pending_ = false;
  feed_begin_ = feed_end_ = nullptr;
  feed_count_ = 0;
  tail_[0] = tail_[1] = 0;
  // A refusal in the middle of a chunk-size line leaves it set, and parse() reads the line
  // before llhttp does: it must not carry over to the next connection's first request.
  chunk_line_ = ChunkLine::kOff;
  chunk_digits_ = chunk_space_ = false;
  chunk_ext_bytes_ = 0;
  // The per-message state is reset by beginMessage() when the next request begins.
}

ParseStep RequestParser::parse(std::string_view data) {
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  ParseStep step;
  if (failed_ != 0) {
    step.event = ParseEvent::kError;
    step.used = data.size();
    step.status = failed_;
    return step;
  }
  began_ = false;
  if (simple_pending_) {
    simple_pending_ = false;
    at_boundary_ = keep_alive_;
    step.event = ParseEvent::kRequest;
    return step;
  }
  // Most requests are plain GETs whose head arrives whole: read without llhttp, they cost a
  // table lookup a byte instead of llhttp's state machine and a dozen callbacks.
  SimpleHead simple;
  if (at_boundary_ && simple_heads_ && readSimpleHead(data, limits_, &simple)) {
    takeSimpleHead(simple);
    keepTail(begin, begin + simple.size);
    step.event = ParseEvent::kHead;
    step.used = simple.size;
    step.began = true;
    return step;
  }
  const char* p = begin;
  for (;;) {
    // llhttp gets the input up to `limit`: all of it, unless a chunk-size line has whitespace
    // to skip.
    const char* limit = end;
    if (chunk_line_ != ChunkLine::kOff && p < end) {
      p = chunkLine(p, end, &limit);
      if (failed_ != 0) {
        p = end;
        break;
      }
      if (p == end) {
        break;
      }
    }
    feed_begin_ = p;
    feed_end_ = limit;
    ++feed_count_;
    count_from_ = p;
    event_ = Event::kNone;
    llhttp_used_ = true;
    llhttp_errno_t err = llhttp_execute(&parser_, p, static_cast<size_t>(limit - p));
    if (failed_ != 0) {
      // A callback refused the request; the rest of the input is ignored.
      p = end;
      break;
    }
    if (err == HPE_OK) {
      if (in_head_ && checkHeadBytes(limit)) {
        head_bytes_ += static_cast<uint64_t>(limit - count_from_);
      }
      p = limit;
      if (p < end) {
        continue;
      }
      break;
    }
    const char* stop = llhttp_get_error_pos(&parser_);
    if (err == HPE_PAUSED) {
      llhttp_resume(&parser_);
      p = stop;
      if (event_ == Event::kChunkDone) {
        // The next chunk's size line begins here.
        chunk_line_ = ChunkLine::kDigits;
        chunk_digits_ = false;
        continue;
      }
      if (event_ == Event::kHeadersDone) {
        if (int status = headersDone(stop, begin); status != 0) {
          refuse(status);
          p = end;
        } else {
          step.event = ParseEvent::kHead;
        }
      } else if (event_ == Event::kMessageDone) {
        if (int status = messageDone(stop, begin); status != 0) {
          refuse(status);
          p = end;
        } else {
          step.event = ParseEvent::kRequest;
          // After "Connection: close" llhttp refuses what follows; after an upgrade it stops
          // first. Both stay its business.
          at_boundary_ = keep_alive_ && parser_.upgrade == 0;
        }
      }
      break;
    }
    if (err == HPE_PAUSED_UPGRADE) {
      // An upgrade is answered like any other request (no 101), so the bytes that follow are
      // HTTP again. (CONNECT, llhttp's other upgrade, was refused at its head.)
      llhttp_resume_after_upgrade(&parser_);
      p = stop;
      if (p < end) {
        continue;
      }
      break;
    }
    spdlog::debug("http: malformed request: {} ({})", llhttp_errno_name(err),
                  llhttp_get_error_reason(&parser_));
    // The head may have gone over its size limit before the byte llhttp refuses. Input split
    // there has the size checked at the end of the first piece, and is refused with 431: the
    // bytes before the bad one are counted here too, so that the answer is the same however the
    // input arrives.
    if (!in_head_ || checkHeadBytes(stop)) {
      refuse(400);
    }
    p = end;
    break;
  }
  if (failed_ != 0) {
    step.event = ParseEvent::kError;
    step.status = failed_;
  }
  keepTail(begin, p);
  step.used = static_cast<size_t>(p - begin);
  step.began = began_;
  return step;
}

const char* RequestParser::chunkLine(const char* p, const char* end, const char** limit) {
  if (chunk_line_ == ChunkLine::kDigits) {
    const char* q = p;
    while (q < end && isHexDigit(*q)) {
      ++q;
    }
    chunk_digits_ = chunk_digits_ || q > p;
    if (q == end) {
      return p;  // all digits so far: llhttp takes them
    }
    if ((*q != ';' && *q != ' ' && *q != '\t') || !chunk_digits_) {
      // The end of the line, or something llhttp refuses: its business.
      chunk_line_ = ChunkLine::kOff;
      return p;
    }
    chunk_line_ = ChunkLine::kBeforeSemicolon;
    chunk_space_ = false;
    chunk_ext_bytes_ = 0;
    if (q > p) {
      *limit = q;  // the digits first; the extensions at the next turn
      return p;
    }
  }
  // Extensions, up to the CR (or a bare LF, which llhttp then refuses): skipped.
  const char* q = p;
  while (q < end && chunk_line_ != ChunkLine::kOff) {
    if (!chunkExtensionByte(*q) || ++chunk_ext_bytes_ > kMaxChunkExtension) {
      spdlog::debug("http: malformed or too long chunk extension");
      refuse(400);
      return end;
    }
    if (chunk_line_ != ChunkLine::kOff) {
      ++q;
    }
  }
  return q;
}

bool RequestParser::chunkExtensionByte(char c) {
  const bool space = c == ' ' || c == '\t';
  const bool line_end = c == '\r' || c == '\n';
  switch (chunk_line_) {
    case ChunkLine::kBeforeSemicolon:
      if (space) {
        chunk_space_ = true;
        return true;
      }
      if (c == ';') {
        chunk_line_ = ChunkLine::kBeforeName;
        return true;
      }
      // RFC 9112 7.1.1 has whitespace only before a ';' or around an '=': "5 \r\n" is refused.
      if (line_end && !chunk_space_) {
        chunk_line_ = ChunkLine::kOff;
        return true;
      }
      return false;
    case ChunkLine::kBeforeName:
      if (space) {
        return true;
      }
      if (isTokenChar(c)) {
        chunk_line_ = ChunkLine::kName;
        return true;
      }
      return false;
    case ChunkLine::kName:
    case ChunkLine::kAfterName:
      if (isTokenChar(c) && chunk_line_ == ChunkLine::kName) {
        return true;
      }
      if (space) {
        chunk_line_ = ChunkLine::kAfterName;
        return true;
      }
      if (c == '=') {
        chunk_line_ = ChunkLine::kBeforeValue;
        return true;
      }
      if (c == ';') {
        chunk_line_ = ChunkLine::kBeforeName;
        return true;
      }
      if (line_end && chunk_line_ == ChunkLine::kName) {
        chunk_line_ = ChunkLine::kOff;
        return true;
      }
      return false;
    case ChunkLine::kBeforeValue:
      if (space) {
        return true;
      }
      if (c == '"') {
        chunk_line_ = ChunkLine::kQuoted;
        return true;
      }
      if (isTokenChar(c)) {
        chunk_line_ = ChunkLine::kValue;
        return true;
      }
      return false;
    case ChunkLine::kValue:
      if (isTokenChar(c)) {
        return true;
      }
      chunk_line_ = ChunkLine::kBeforeSemicolon;
      chunk_space_ = false;
      return chunkExtensionByte(c);
    case ChunkLine::kQuoted: {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"') {
        chunk_line_ = ChunkLine::kBeforeSemicolon;
        chunk_space_ = false;
        return true;
      }
      if (c == '\\') {
        chunk_line_ = ChunkLine::kQuotedEscape;
        return true;
      }
      // qdtext: HTAB, SP and visible characters but '"' and '\\', and obs-text.
      return c == '\t' || (u >= 0x20 && u != 0x7f);
    }
    case ChunkLine::kQuotedEscape: {
      const auto u = static_cast<unsigned char>(c);
      chunk_line_ = ChunkLine::kQuoted;
      return c == '\t' || (u >= 0x20 && u != 0x7f);
    }
    case ChunkLine::kOff:
    case ChunkLine::kDigits:
      break;
  }
  return false;
}

void RequestParser::keepTail(const char* begin, const char* p) {
  const size_t used = static_cast<size_t>(p - begin);
  if (used >= 2) {
    tail_[0] = p[-2];
    tail_[1] = p[-1];
  } else if (used == 1) {
    tail_[0] = tail_[1];
    tail_[1] = p[-1];
  }
}

char RequestParser::byteBefore(const char* at, const char* begin, size_t k) const {
  const size_t here = static_cast<size_t>(at - begin);
  if (here >= k) {
    return at[-static_cast<ptrdiff_t>(k)];
  }
  return tail_[2 - (k - here)];
}

int RequestParser::refuse(int status) {
  failed_ = status;
  return -1;
}

bool RequestParser::countTrailerBytes(size_t len) {
  trailer_bytes_ += len;
  if (trailer_bytes_ > limits_.max_header_bytes) {
    refuse(431);
    return false;
  }
  return true;
}

bool RequestParser::checkHeadBytes(const char* end) {
  uint64_t total = head_bytes_ + static_cast<uint64_t>(end - count_from_);
  if (total > limits_.max_header_bytes) {
    refuse(431);
    return false;
  }
  return true;
}

// ---- llhttp callbacks

int RequestParser::onMessageBegin(llhttp_t* p) {
  parserOf(p)->beginMessage();
  return 0;
}

void RequestParser::beginMessage() {
  began_ = true;
  in_head_ = true;
  at_boundary_ = false;
  url_.clear();
  headers_.clear();
  head_in_input_ = false;
  body_.clear();
  keep_body_ = false;
  head_bytes_ = 0;
  // Counted from the start of this input, so blank lines before the request line count too.
  count_from_ = feed_begin_;
  method_known_ = false;
  trailer_bytes_ = 0;
  body_bytes_ = 0;
  header_count_ = 0;
  field_open_ = false;
  name_len_ = 0;
  value_spans_ = 0;
  host_count_ = 0;
  bad_host_ = false;
  bad_transfer_coding_ = false;
  chunk_line_ = ChunkLine::kOff;
  expect_continue_ = false;
  expect_other_ = false;
  continue_due_ = false;
}

void RequestParser::takeSimpleHead(const SimpleHead& head) {
  beginMessage();
  in_head_ = false;
  head_in_input_ = true;
  input_target_ = head.target;
  input_path_size_ = head.path_size;
  input_headers_ = head.headers;
  head_bytes_ = head.size;
  method_ = head.head_method ? HTTP_HEAD : HTTP_GET;
  method_known_ = true;
  http_minor_ = 1;
  keep_alive_ = true;  // HTTP/1.1 without a Connection field
  simple_pending_ = true;
}

int RequestParser::onUrl(llhttp_t* p, const char* at, size_t len) {
  RequestParser* r = parserOf(p);
  if (!r->checkHeadBytes(at + len)) {
    return -1;
  }
  r->url_.append(at, len);
  // A target that ends the line has no version after it: an HTTP/0.9 request line ("GET /").
  // llhttp (strict) would wait for the byte after the CRLF, a header section that such a client
  // never sends, and the answer would be a 408 at the head deadline; refuse it now. The target
  // is known to end when the byte after it is in this input (a span cut by the end of the input
  // continues in the next call, empty if the target ended right there).
  if (at + len < r->feed_end_ && (at[len] == '\r' || at[len] == '\n')) {
    spdlog::debug("http: HTTP/0.9 request line");
    return r->refuse(400);
  }
  return 0;
}

int RequestParser::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  RequestParser* r = parserOf(p);
  r->name_len_ += len;
  if (r->in_head_) {
    if (!r->checkHeadBytes(at + len)) {
      return -1;
    }
    if (!r->field_open_) {
      r->name_at_ = r->headers_.size();
      r->field_open_ = true;
    }
    r->headers_.append(at, len);
  } else {
    // A trailer field: counted and limited, not kept.
    if (!r->countTrailerBytes(len)) {
      return -1;
    }
  }
  return 0;
}

int RequestParser::onHeaderFieldComplete(llhttp_t* p) {
  RequestParser* r = parserOf(p);
  // llhttp accepts a line that starts with its colon (": value"), as a field with an empty
  // name; a field name is a token of at least one character.
  const bool named = r->name_len_ > 0;
  r->name_len_ = 0;
  r->field_open_ = false;
  r->value_spans_ = 0;
  if (!named) {
    spdlog::debug("http: header field with an empty name");
    return r->refuse(400);
  }
  if (++r->header_count_ > r->limits_.max_headers) {
    return r->refuse(431);
  }
  if (!r->in_head_) {
    r->field_ = Field::kOther;
    return 0;
  }
  std::string_view name = std::string_view(r->headers_).substr(r->name_at_);
  r->field_ = equalsIgnoreCase(name, "host")                ? Field::kHost
              : equalsIgnoreCase(name, "expect")            ? Field::kExpect
              : equalsIgnoreCase(name, "transfer-encoding") ? Field::kTransferEncoding
                                                            : Field::kOther;
  r->headers_ += ": ";
  r->value_at_ = r->headers_.size();
  return 0;
}

int RequestParser::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  RequestParser* r = parserOf(p);
  // llhttp hands an obsolete line folding ("X: a\r\n b") to us as a second span of the same
  // value, after the CRLF. Within one llhttp_execute() call a value comes as one span, so a
  // value split only by the end of the input continues in the next call, exactly at its start,
  // after a span that ended exactly at the end of the previous one. Any other second span is a
  // fold, which RFC 9112 5.2 lets a server refuse with 400 (and which proxies may read
  // differently).
  if (r->value_spans_ > 0) {
    bool contiguous =
        r->value_feed_ != r->feed_count_ && r->value_at_feed_end_ && at == r->feed_begin_;
    if (!contiguous) {
      // The head may have gone over its size limit before the fold, as in parse(): input split
      // there is refused with 431, so whole input must be too.
      if (r->in_head_ && !r->checkHeadBytes(at)) {
        return -1;
      }
      spdlog::debug("http: obsolete line folding in a header value");
      return r->refuse(400);
    }
  }
  ++r->value_spans_;
  r->value_feed_ = r->feed_count_;
  r->value_at_feed_end_ = at + len == r->feed_end_;
  if (r->in_head_) {
    if (!r->checkHeadBytes(at + len)) {
      return -1;
    }
    r->headers_.append(at, len);
  } else {
    if (!r->countTrailerBytes(len)) {
      return -1;
    }
  }
  return 0;
}

int RequestParser::onHeaderValueComplete(llhttp_t* p) {
  RequestParser* r = parserOf(p);
  if (!r->in_head_) {
    return 0;
  }
  trimTrailingWhitespace(r->headers_, r->value_at_);
  const std::string_view value = std::string_view(r->headers_).substr(r->value_at_);
  if (r->field_ == Field::kHost) {
    ++r->host_count_;
    r->bad_host_ = r->bad_host_ || !isHostValue(value);
  } else if (r->field_ == Field::kTransferEncoding) {
    // llhttp checks only that the last coding is chunked; portd decodes no other coding, and
    // "identity" is no longer one (RFC 9112 7), so anything but a single "chunked" is refused.
    r->bad_transfer_coding_ = r->bad_transfer_coding_ || !equalsIgnoreCase(value, "chunked");
  } else if (r->field_ == Field::kExpect) {
    if (equalsIgnoreCase(value, "100-continue")) {
      r->expect_continue_ = true;
    } else {
      r->expect_other_ = true;
    }
  }
  r->headers_ += "\r\n";
  return 0;
}

int RequestParser::onHeadersComplete(llhttp_t* p) {
  parserOf(p)->event_ = Event::kHeadersDone;
  return HPE_PAUSED;
}

int RequestParser::onChunkHeader(llhttp_t* p) {
  RequestParser* r = parserOf(p);
  // The chunk's size is known before its data arrives: refuse a body that will be too large now.
  // Compared with the room left rather than summed, since a chunk size near 2^64 would wrap the
  // sum (onBody keeps body_bytes_ within the limit).
  if (p->content_length > r->limits_.max_body_bytes - r->body_bytes_) {
    return r->refuse(413);
  }
  return 0;
}

int RequestParser::onChunkComplete(llhttp_t* p) {
  // The end of a chunk's data, where the next size line begins (chunkLine()). The last chunk
  // completes after its trailers, with nothing of the body after it.
  if ((p->flags & F_TRAILING) != 0) {
    return 0;
  }
  parserOf(p)->event_ = Event::kChunkDone;
  return HPE_PAUSED;
}

int RequestParser::onBody(llhttp_t* p, const char* at, size_t len) {
  RequestParser* r = parserOf(p);
  r->body_bytes_ += len;
  if (r->body_bytes_ > r->limits_.max_body_bytes) {
    return r->refuse(413);
  }
  if (r->keep_body_) {
    r->body_.append(at, len);
  }
  return 0;
}

int RequestParser::onMessageComplete(llhttp_t* p) {
  parserOf(p)->event_ = Event::kMessageDone;
  return HPE_PAUSED;
}

// ---- the checks at the end of the head and of the message

int RequestParser::headersDone(const char* at, const char* begin) {
  head_bytes_ += static_cast<uint64_t>(at - count_from_);
  if (head_bytes_ > limits_.max_header_bytes) {
    return 431;
  }
  in_head_ = false;
  // llhttp (even strict) takes a bare LF as the blank line that ends the head; RFC 9112 2.2
  // lets a server refuse bare LFs, and a proxy that reads them differently would see another
  // request.
  if (!crlfBefore(at, begin)) {
    spdlog::debug("http: head ends with a bare LF");
    return 400;
  }
  method_ = llhttp_get_method(&parser_);
  method_known_ = true;
  http_minor_ = llhttp_get_http_minor(&parser_);
  const uint8_t major = llhttp_get_http_major(&parser_);
  if (major >= 2) {
    return 505;
  }
  // llhttp reads a request line without a version as HTTP/0.9, which is not served.
  if (major != 1 || http_minor_ > 1) {
    return 400;
  }
  // RFC 9112 3.2: exactly one Host in HTTP/1.1; never more than one.
  if (host_count_ > 1 || (http_minor_ == 1 && host_count_ == 0)) {
    spdlog::debug("http: {} Host header fields", host_count_);
    return 400;
  }
  if (bad_host_) {
    spdlog::debug("http: a Host that is not a host and port");
    return 400;
  }
  if (bad_transfer_coding_) {
    spdlog::debug("http: a transfer coding other than chunked");
    return 400;
  }
  // RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request means faulty framing.
  if (http_minor_ == 0 && (parser_.flags & F_TRANSFER_ENCODING) != 0) {
    return 400;
  }
  // An origin server is not a proxy: CONNECT is refused, with 405 as nginx does. llhttp reads
  // no body after a CONNECT head, since a tunnel would follow it, so the bytes after the head
  // are not to be read as anything: a body sent anyway (Content-Length, chunked) would otherwise
  // be read as the next request, and a chunked one as chunk-size lines or a request line
  // depending on whether it arrived with the head.
  if (method_ == HTTP_CONNECT) {
    spdlog::debug("http: CONNECT to an origin server");
    return 405;
  }
  keep_alive_ = llhttp_should_keep_alive(&parser_) != 0;

  const bool has_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
  const bool chunked = (parser_.flags & F_CHUNKED) != 0;
  if (has_length && parser_.content_length > limits_.max_body_bytes) {
    return 413;
  }
  if (expect_other_) {
    return 417;
  }
  // RFC 9110 10.1.1: only an HTTP/1.1 client waits for 100 Continue, and only when a body is to
  // follow.
  continue_due_ = expect_continue_ && http_minor_ == 1 &&
                  (chunked || (has_length && parser_.content_length > 0));
  if (chunked) {
    // The body begins with the first chunk's size line.
    chunk_line_ = ChunkLine::kDigits;
    chunk_digits_ = false;
  }
  return 0;
}

int RequestParser::messageDone(const char* at, const char* begin) {
  // The same bare-LF check for the blank line that ends a chunked body's trailers.
  if ((parser_.flags & F_CHUNKED) != 0 && !crlfBefore(at, begin)) {
    spdlog::debug("http: chunked body ends with a bare LF");
    return 400;
  }
  return 0;
}

}  // namespace portd::handlers::http
