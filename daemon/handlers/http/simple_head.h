#pragma once

#include <cstddef>
#include <string_view>

#include "handlers/http/http_config.h"

namespace portd::handlers::http {

// The head of a request in the plainest form, read without llhttp: what load generators and
// browsers send for a keep-alive GET, and nearly every request a route answers.
//
//   ("GET" / "HEAD") SP origin-form SP "HTTP/1.1" CRLF
//   *( token ":" SP field-value CRLF )   ; the value starts and ends with a visible character
//   CRLF
//
// with every character of the target among RFC 3986's unreserved, sub-delims, ":", "@", "/",
// "?" and "%"; field values of visible characters and spaces only; no Content-Length,
// Transfer-Encoding, Connection, Proxy-Connection, Upgrade or Expect field (so no body, and the
// connection stays open); exactly one Host field, with a valid value; and the head within
// `limits` (its size counted from the method to the blank line, as RequestParser counts it).
// HTTP/1.0 is left to llhttp: its requests close the connection, after which llhttp refuses
// what follows, and only llhttp knows to.
//
// Such a head is one llhttp (strict) accepts, and RequestParser reads it exactly as llhttp would
// have: the same method, target, version, "Name: value\r\n" lines (here the bytes as sent) and
// persistence. Anything else, including a head not complete in `in`, is left to llhttp: this
// only accepts, it never refuses, so it can change no answer.
struct SimpleHead {
  size_t size = 0;  // bytes of `in` the head takes, blank line included
  bool head_method = false;
  std::string_view target;
  size_t path_size = 0;      // of the target before its query ('?'), if any
  std::string_view headers;  // the field lines, each ending in CRLF
};

// Whether `in` begins with a complete head of that form; fills `out` if so.
bool readSimpleHead(std::string_view in, const HttpLimits& limits, SimpleHead* out);

}  // namespace portd::handlers::http
