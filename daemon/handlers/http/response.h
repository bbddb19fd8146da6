#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portd::handlers::http {

// What a response says about the connection after it.
enum class Persistence {
  kKeepAlive,    // HTTP/1.1 default: no Connection header
  kKeepAlive10,  // an HTTP/1.0 client asked for keep-alive: "Connection: keep-alive"
  kClose,        // "Connection: close", and the connection closes once it is sent
};

// A response decided at configuration time. `head` holds the status line and every fixed header
// line (Server, Content-Type, Content-Length, the route's own), each ending in CRLF; what varies
// per request (Date, Connection, the blank line) is appended when it is sent, so that a fixed
// route costs a few memcpy()s and no formatting.
//
// `keep_alive` is the whole response as an HTTP/1.1 keep-alive request gets it (nearly every
// one), with a Date line of kDateLineSize bytes to overwrite: one copy and a patch instead of
// four appends. Empty for a response over kPrebuiltLimit, which is copied in parts.
struct CannedResponse {
  int status = 200;
  std::string head;
  std::string body;
  std::string keep_alive;
};

// The size of the Date line DateCache makes ("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n") until
// the year 10000.
inline constexpr size_t kDateLineSize = 37;
// Responses up to this size are also kept whole (CannedResponse::keep_alive): a larger body
// costs its copy whatever the head costs, and is not held twice.
inline constexpr size_t kPrebuiltLimit = 16 * 1024;

// `extra_headers` are complete "Name: value" lines without CRLF, already validated.
CannedResponse makeCannedResponse(int status, std::string_view content_type, std::string body,
                                  const std::vector<std::string>& extra_headers = {});

// "HTTP/1.1 404 Not Found\r\nServer: portd\r\n"
void appendStatusLine(std::string& out, int status);
// The lines every response ends its head with: Date, the Connection header `persistence` asks
// for, and the blank line.
void appendHeadEnd(std::string& out, std::string_view date_line, Persistence persistence);
// A canned response in full; without its body when `head_only` (a HEAD request).
void appendCanned(std::string& out, const CannedResponse& response, std::string_view date_line,
                  Persistence persistence, bool head_only);
// "Content-Length: N\r\n"
void appendContentLength(std::string& out, uint64_t length);

inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace portd::handlers::http
