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
struct CannedResponse {
  int status = 200;
  std::string head;
  std::string body;
};

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
