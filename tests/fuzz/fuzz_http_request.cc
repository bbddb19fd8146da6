// Fuzz target for the HTTP request parser: the input is a byte stream from a client. It is fed
// whole, in two pieces split at a position derived from the input, and (when short) one byte at
// a time, as reads may deliver it, under three sets of limits. Any broken invariant aborts:
//  - parse() never reports more bytes used than it was given, uses all of them when it asks for
//    more, and always makes progress, so that a session's read loop ends;
//  - a refusal carries one of the statuses the handler has a response for, and sticks;
//  - what is kept of a request (target, headers, body) stays within the limits;
//  - the requests read, the heads accepted and the refusal are the same wherever the input is
//    split (RequestParser's contract), with the one exception it documents: blank lines before
//    a request line count against the head size limit only when they arrive with its first
//    byte, so a 431 on the whole input may come later, or not at all, on split input;
//  - heads of the plainest form, which the parser reads without llhttp (simple_head.h), read
//    exactly as llhttp reads them: the whole input gives the same outcome, exactly, with that
//    shortcut turned off, and where such a head tells where its target's path ends,
//    splitTarget() agrees.
// Each piece is a heap copy of its own, so that AddressSanitizer catches a look back past the
// start of a piece.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/http/request_parser.h"
#include "handlers/http/routes.h"

using portd::handlers::http::HttpLimits;
using portd::handlers::http::ParsedRequest;
using portd::handlers::http::ParseEvent;
using portd::handlers::http::ParseStep;
using portd::handlers::http::RequestParser;
using portd::handlers::http::splitTarget;
using portd::handlers::http::Target;

namespace {

// Aborts with a message, so that libFuzzer (or the replay executable) reports the input.
[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_http_request: invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) {
    fail(what);
  }
}

struct Request {
  int method = 0;
  std::string target;
  int http_minor = 1;
  std::string headers;
  std::string body;
  bool keep_alive = true;
  bool expect_continue = false;

  bool operator==(const Request&) const = default;
};

struct Outcome {
  std::vector<Request> requests;
  int began = 0;
  int heads = 0;
  int error = 0;
  bool error_head_only = false;

  bool operator==(const Outcome&) const = default;
};

bool knownStatus(int status) {
  return status == 400 || status == 405 || status == 413 || status == 417 || status == 431 ||
         status == 505;
}

// Checks a request as parse() hands it over after kHead (`complete` false) or kRequest.
void checkRequest(const ParsedRequest& r, const HttpLimits& limits, bool complete) {
  check(r.target.size() <= limits.max_header_bytes, "target larger than max_header_bytes");
  // Each kept field is "Name: value\r\n": one byte more than the shortest form on the wire
  // ("Name:value\r\n"), so the kept head may exceed the limit by one byte a field, no more.
  check(r.headers.size() <= limits.max_header_bytes + limits.max_headers,
        "kept header fields larger than the limits allow");
  check(r.http_minor == 0 || r.http_minor == 1, "a version other than HTTP/1.0 or 1.1 accepted");
  check(r.body.size() <= limits.max_body_bytes, "body larger than max_body_bytes");
  if (r.path_size != std::string_view::npos) {
    // Where the parser found the query, splitTarget() finds it too.
    const Target known = splitTarget(r.target, r.path_size);
    const Target found = splitTarget(r.target);
    check(known.path == found.path && known.query == found.query,
          "the parser split the target where splitTarget() does not");
  }
  if (!complete) {
    check(r.body.empty(), "a body before the head was accepted");
  }
}

// Feeds one piece as the session does with one read: parse() until the piece is used, once
// more after a head even with nothing left, and no further after a refusal. Bodies are kept, as
// for /echo.
void feed(RequestParser& parser, const HttpLimits& limits, std::string_view piece, Outcome* out) {
  size_t used = 0;
  bool more = !piece.empty();
  // parse() stops at most twice per request (head, end) and a request takes at least one byte,
  // so a loop longer than this one is not making progress.
  size_t calls_left = 2 * piece.size() + 4;
  while (more && out->error == 0) {
    check(calls_left-- > 0, "parse() makes no progress");
    const std::string_view rest = piece.substr(used);
    const ParseStep step = parser.parse(rest);
    check(step.used <= rest.size(), "used more bytes than given");
    used += step.used;
    more = used < piece.size();
    out->began += step.began ? 1 : 0;
    switch (step.event) {
      case ParseEvent::kNeedMore:
        check(step.used == rest.size(), "asked for more input without using all of it");
        check(step.status == 0, "a status without a refusal");
        break;
      case ParseEvent::kHead:
        checkRequest(parser.request(), limits, false);
        ++out->heads;
        parser.keepBody(true);
        more = true;
        break;
      case ParseEvent::kRequest: {
        const ParsedRequest r = parser.request();
        checkRequest(r, limits, true);
        Request c;
        c.method = static_cast<int>(r.method);
        c.target = r.target;
        c.http_minor = r.http_minor;
        c.headers = r.headers;
        c.body = r.body;
        c.keep_alive = r.keep_alive;
        c.expect_continue = r.expect_continue;
        out->requests.push_back(std::move(c));
        break;
      }
      case ParseEvent::kError: {
        check(knownStatus(step.status), "refused with a status the handler has no response for");
        out->error = step.status;
        out->error_head_only = parser.isHeadRequest();
        // A refusal is final: later input, even none, gets the same answer and is all used.
        const ParseStep again = parser.parse(piece.substr(used));
        check(again.event == ParseEvent::kError && again.status == step.status,
              "a refused parser went on");
        check(again.used == piece.size() - used, "a refused parser did not drop the rest");
        break;
      }
    }
  }
}

Outcome parsePieces(const std::vector<std::string>& pieces, const HttpLimits& limits,
                    bool simple_heads = true) {
  RequestParser parser(limits);
  parser.readSimpleHeads(simple_heads);
  Outcome out;
  for (const std::string& piece : pieces) {
    feed(parser, limits, piece, &out);
  }
  return out;
}

// Whether `split` is what `whole` allows for the same input in other pieces.
void checkSameOutcome(const Outcome& whole, const Outcome& split, const char* how) {
  if (split == whole) {
    return;
  }
  // RequestParser's one documented difference: blank lines before a request line count
  // against max_header_bytes only when they arrive in the same piece as its first byte, so split
  // input counts no more than whole input does. The whole input's 431 may then come later on
  // split input, after the same requests.
  if (whole.error == 431 && split.requests.size() >= whole.requests.size() &&
      std::equal(whole.requests.begin(), whole.requests.end(), split.requests.begin())) {
    return;
  }
  std::fprintf(stderr,
               "fuzz_http_request: %s: whole input: %d begun, %zu requests, %d heads, error %d; "
               "split: %d begun, %zu requests, %d heads, error %d\n",
               how, whole.began, whole.requests.size(), whole.heads, whole.error, split.began,
               split.requests.size(), split.heads, split.error);
  fail("split input read differently from whole input");
}

void run(std::string_view input, const HttpLimits& limits) {
  const Outcome whole = parsePieces({std::string(input)}, limits);
  check(whole.began >= static_cast<int>(whole.requests.size()), "a request ended unbegun");
  if (!(parsePieces({std::string(input)}, limits, false) == whole)) {
    fail("a simple head read differently without llhttp");
  }
  if (input.size() >= 2) {
    // A position that depends on every byte, so that the fuzzer moves it by changing the input
    // and a saved input always splits at the same place (FNV-1a).
    uint32_t hash = 2166136261u;
    for (unsigned char c : input) {
      hash = (hash ^ c) * 16777619u;
    }
    const size_t at = 1 + hash % (input.size() - 1);
    const Outcome two =
        parsePieces({std::string(input.substr(0, at)), std::string(input.substr(at))}, limits);
    checkSameOutcome(whole, two, "two pieces");
  }
  // One byte a time costs a parse() call a byte: kept to short inputs, where most paths are.
  if (input.size() <= 256) {
    std::vector<std::string> bytes;
    for (char c : input) {
      bytes.emplace_back(1, c);
    }
    checkSameOutcome(whole, parsePieces(bytes, limits), "one byte at a time");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The defaults the handler runs with.
  run(input, HttpLimits{});
  // Limits small enough for short inputs to reach them: 413, and 431 by field count.
  HttpLimits small;
  small.max_headers = 3;
  small.max_body_bytes = 8;
  run(input, small);
  // And a head size limit a short input can exceed: 431 by size.
  HttpLimits tiny = small;
  tiny.max_header_bytes = 48;
  run(input, tiny);
  return 0;
}
