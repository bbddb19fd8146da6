#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "handlers/http/http_config.h"
#include "handlers/http/simple_head.h"

namespace portd::handlers::http {

// Where a call of RequestParser::parse() stopped.
enum class ParseEvent {
  kNeedMore,  // the input ran out, between requests or in the middle of one
  kHead,      // a request's head is complete and passed every check: see RequestParser::request()
  kRequest,   // the request is complete, body included
  kError,     // the request is refused: answer with ParseStep::status and close the connection
};

struct ParseStep {
  ParseEvent event = ParseEvent::kNeedMore;
  // Bytes of the input consumed: all of it, unless the parser stopped at the end of a head or
  // of a request (or at a refused request, where the rest no longer matters).
  size_t used = 0;
  // A request began in this input: its first byte other than the blank lines a client may send
  // between requests. The caller starts the request's clock and head deadline there.
  bool began = false;
  int status = 0;  // kError: 400, 405, 413, 417, 431 or 505
};

// The request being read, as the handler uses it. The views point into the parser's buffers,
// or, for a head read whole from one input without llhttp (simple_head.h), into that input, as
// the head need not be copied then: they stay valid until the next request begins, and no
// longer than the input given to parse() when the head arrived whole.
struct ParsedRequest {
  llhttp_method_t method = HTTP_GET;  // llhttp_method_name() spells it
  std::string_view target;            // as sent, query included
  // Bytes of `target` before its query, where the parser found that out on the way (a head
  // read without llhttp, whose origin-form target has no fragment); npos where splitTarget()
  // is to find it.
  size_t path_size = std::string_view::npos;
  int http_minor = 1;  // HTTP/1.x
  // "Name: value\r\n" lines in the order received, trailing whitespace removed from values.
  // Trailer fields of a chunked body are counted against the head limit but not kept.
  std::string_view headers;
  std::string_view body;  // empty unless keepBody(true) was asked for this request
  bool keep_alive = true;
  // The client waits for "100 Continue" before it sends the body: it is HTTP/1.1, sent
  // "Expect: 100-continue", and a body is to follow (RFC 9110 10.1.1).
  bool expect_continue = false;
};

// HTTP/1.x requests read from a byte stream: llhttp (strict mode) and the checks portd adds on
// top of it, with no connection, loop or timer, so that it can be driven by a session or by a
// test on plain strings.
//
// The input comes in pieces of any size, as reads deliver it; every check gives the same answer
// wherever the pieces split a request (blank lines before a request line count against the head
// limit only when they arrive in the same piece as its first byte). Each call of parse() stops at
// the first event, so that the caller can act between the head and the body (route the request,
// send 100 Continue) and after each request (answer it, or stop reading while an answer is
// delayed). The caller passes the bytes parse() did not use to the next call.
//
// What is refused on top of llhttp, and why:
//  - a head larger than max_header_bytes, or with more than max_headers fields: 431. Trailer
//    fields count against the same limits, but are not kept;
//  - a body larger than max_body_bytes, known from Content-Length or a chunk size before the
//    data arrives: 413;
//  - a head or a chunked body's trailers ended by a bare LF, an obsolete line folding, a field
//    with an empty name, a missing Host in HTTP/1.1 or more than one Host, a Host that is not a
//    URI host and port ("a b/c"), Transfer-Encoding in HTTP/1.0 or with any coding but a single
//    "chunked" ("identity, chunked", "gzip, chunked"), a request line with HTTP/1.2 and up: 400,
//    because a proxy in front may read such a request differently (RFC 9112 2.2, 3.2, 5.2,
//    6.1; RFC 9110 7.2);
//  - a request line without a version (HTTP/0.9): 400 as soon as the line ends, rather than
//    after the head deadline, since no header section follows such a line;
//  - an HTTP/2 or later version in the request line, where llhttp lets one through: 505;
//  - an Expect other than 100-continue: 417;
//  - CONNECT, once its head has passed the checks above: 405, since portd is an origin server
//    and not a proxy. llhttp reads no body after a CONNECT head (a tunnel would follow it), so
//    nothing after the head can be read as HTTP either.
// Upgrade requests are read like any other: what follows them is HTTP again.
//
// Chunk extensions are read by the parser itself and never reach llhttp, which gets each size
// line as "SIZE\r\n": llhttp 8.1 (strict) refuses whitespace before an extension ("5 ;a=b"),
// which RFC 9112 7.1.1 allows, and a second extension after one with a value ("5;a=b;c=d").
// The extensions are checked against RFC 9112's grammar (a malformed one, or whitespace that no
// extension follows, as in "5 \r\n", is a 400) and limited to kMaxChunkExtension bytes a line.
//
// Buffers keep their capacity from one request to the next, so that a connection's steady
// state allocates nothing. Not copyable or movable: llhttp points back at the parser.
class RequestParser {
 public:
  explicit RequestParser(const HttpLimits& limits);
  // As new, for another connection (a pooled session's); buffers keep their capacity.
  void reset();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Reads `data` up to the first event. After kHead call parse() again even with no input left:
  // a request without a body completes there. After kError the parser is done; later calls
  // return the same error.
  ParseStep parse(std::string_view data);

  // Whether the body of the current request is kept for request().body: the caller decides once
  // parse() has returned kHead, knowing where the request goes. Each request starts with false;
  // a body that is not kept is only counted against the limit.
  void keepBody(bool keep) { keep_body_ = keep; }

  // The current request. Its head is there once parse() has returned kHead; its body once it
  // has returned kRequest.
  ParsedRequest request() const {
    ParsedRequest r;
    r.method = static_cast<llhttp_method_t>(method_);
    r.target = head_in_input_ ? input_target_ : std::string_view(url_);
    r.path_size = head_in_input_ ? input_path_size_ : std::string_view::npos;
    r.http_minor = http_minor_;
    r.headers = head_in_input_ ? input_headers_ : std::string_view(headers_);
    r.body = body_;
    r.keep_alive = keep_alive_;
    r.expect_continue = continue_due_;
    return r;
  }
  // Whether the current request is known to be a HEAD request, so that even a refusal carries
  // no body: its method is known once its head has ended with CRLF within the size limit.
  bool isHeadRequest() const { return method_known_ && method_ == HTTP_HEAD; }

  // Whether heads of the plainest form (simple_head.h) are read without llhttp (the default).
  // Either way every request reads the same; tests and the fuzzer compare the two.
  void readSimpleHeads(bool on) { simple_heads_ = on; }

 private:
  enum class Event { kNone, kHeadersDone, kChunkDone, kMessageDone };
  enum class Field { kOther, kHost, kExpect, kTransferEncoding };
  // Where a chunked body's size line is (see chunkLine()): not in one, in its hex digits, or in
  // its extensions, at a point of their grammar.
  enum class ChunkLine {
    kOff,
    kDigits,
    kBeforeSemicolon,  // whitespace, ';' or the line's end
    kBeforeName,
    kName,
    kAfterName,  // whitespace, '=', ';' or the line's end
    kBeforeValue,
    kValue,
    kQuoted,
    kQuotedEscape,
  };

  void beginMessage();
  // Takes a head read by readSimpleHead() as llhttp and headersDone() would have left it.
  void takeSimpleHead(const SimpleHead& head);
  // The checks once the head is complete, at `at` in the input that began at `begin`. Returns
  // the status to refuse the request with, or 0.
  int headersDone(const char* at, const char* begin);
  int messageDone(const char* at, const char* begin);
  // Records the refusal that ends parsing; returns -1 for the llhttp callback to return.
  int refuse(int status);
  // Byte `k` (1 or 2) before `at`, looking back past `begin` into the previous input.
  char byteBefore(const char* at, const char* begin, size_t k) const;
  bool crlfBefore(const char* at, const char* begin) const {
    return byteBefore(at, begin, 2) == '\r' && byteBefore(at, begin, 1) == '\n';
  }
  // Keeps the last two bytes used, for CRLF checks that look back across inputs.
  void keepTail(const char* begin, const char* p);
  // Head size so far, up to `end` in the current input; false (after refusing with 431) when it
  // is over the limit.
  bool checkHeadBytes(const char* end);
  // Trailer fields are counted against the same limit, not kept; false after refusing with 431.
  bool countTrailerBytes(size_t len);
  // In a chunk-size line, from `p`: how much of the input to hand llhttp now (*limit), and where
  // to start (the return value, past extensions that are skipped). May refuse the request.
  const char* chunkLine(const char* p, const char* end, const char** limit);
  // One byte of a chunk extension: the next state, or kOff at the line's end. False when the
  // byte is not allowed there.
  bool chunkExtensionByte(char c);

  static int onMessageBegin(llhttp_t* p);
  static int onUrl(llhttp_t* p, const char* at, size_t len);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderFieldComplete(llhttp_t* p);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* p);
  static int onHeadersComplete(llhttp_t* p);
  static int onChunkHeader(llhttp_t* p);
  static int onChunkComplete(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* p);
  static const llhttp_settings_t& settings();

  const HttpLimits limits_;
  llhttp_t parser_;
  // llhttp was given input since it was initialized: reset() must initialize it again. A
  // keep-alive connection whose heads are all simple never uses it, and its pooled session is
  // reset for every request.
  bool llhttp_used_ = false;
  Event event_ = Event::kNone;
  bool began_ = false;  // onMessageBegin() ran during the current parse()
  int failed_ = 0;      // the status of the refusal, once there is one
  bool in_head_ = false;
  // llhttp is between requests and expects another (the last one kept the connection open and
  // asked for no upgrade): a head of the plainest form may be read without it.
  bool at_boundary_ = true;
  bool simple_heads_ = true;
  // A simple head was read: the next parse() completes its request, which has no body.
  bool simple_pending_ = false;

  // The input being parsed: one llhttp_execute() call's range.
  const char* feed_begin_ = nullptr;
  const char* feed_end_ = nullptr;
  uint64_t feed_count_ = 0;  // llhttp_execute() calls so far
  // The last two bytes of earlier input, for CRLF checks that look back across inputs.
  char tail_[2] = {0, 0};

  std::string url_;
  std::string headers_;  // "Name: value\r\n" lines
  // A simple head's target and field lines, in the input it was read from (head_in_input_):
  // the request is answered before that input goes.
  bool head_in_input_ = false;
  std::string_view input_target_;
  size_t input_path_size_ = 0;
  std::string_view input_headers_;
  std::string body_;
  bool keep_body_ = false;
  uint64_t head_bytes_ = 0;
  const char* count_from_ = nullptr;  // head bytes before this point are in head_bytes_
  uint64_t trailer_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  uint64_t header_count_ = 0;
  size_t name_at_ = 0;
  size_t value_at_ = 0;
  bool field_open_ = false;
  size_t name_len_ = 0;
  Field field_ = Field::kOther;
  // obs-fold detection: which llhttp_execute() call gave the last span of the current value, and
  // whether that span ran to the end of its input.
  uint64_t value_feed_ = 0;
  bool value_at_feed_end_ = false;
  size_t value_spans_ = 0;
  int host_count_ = 0;
  bool bad_host_ = false;
  bool bad_transfer_coding_ = false;
  ChunkLine chunk_line_ = ChunkLine::kOff;
  bool chunk_digits_ = false;   // the size line has a hex digit so far
  bool chunk_space_ = false;    // whitespace since the last part of an extension
  size_t chunk_ext_bytes_ = 0;  // extension bytes skipped on this line
  bool expect_continue_ = false;
  bool expect_other_ = false;
  bool continue_due_ = false;
  bool keep_alive_ = true;
  uint8_t method_ = 0;
  bool method_known_ = false;
  uint8_t http_minor_ = 1;
};

}  // namespace portd::handlers::http
