#include "handlers/http/response.h"

#include <charconv>
#include <cstring>

#include "handlers/http/status.h"

namespace portd::handlers::http {

void appendStatusLine(std::string& out, int status) {
  char code[4] = {static_cast<char>('0' + status / 100 % 10),
                  static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10),
                  ' '};
  out += "HTTP/1.1 ";
  out.append(code, sizeof code);
  out += reasonPhrase(status);
  out += "\r\nServer: portd\r\n";
}

void appendContentLength(std::string& out, uint64_t length) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, length);
  out += "Content-Length: ";
  out.append(digits, static_cast<size_t>(end - digits));
  out += "\r\n";
}

CannedResponse makeCannedResponse(int status, std::string_view content_type, std::string body,
                                  const std::vector<std::string>& extra_headers) {
  CannedResponse r;
  r.status = status;
  appendStatusLine(r.head, status);
  if (!statusHasNoBody(status)) {
    if (!content_type.empty()) {
      r.head += "Content-Type: ";
      r.head += content_type;
      r.head += "\r\n";
    }
    appendContentLength(r.head, body.size());
    r.body = std::move(body);
  }
  for (const std::string& h : extra_headers) {
    r.head += h;
    r.head += "\r\n";
  }
  if (r.head.size() + kDateLineSize + 2 + r.body.size() <= kPrebuiltLimit) {
    r.keep_alive = r.head;
    r.keep_alive.append(kDateLineSize, ' ');  // overwritten by each response
    appendHeadEnd(r.keep_alive, "", Persistence::kKeepAlive);
    r.keep_alive += r.body;
  }
  return r;
}

void appendHeadEnd(std::string& out, std::string_view date_line, Persistence persistence) {
  out += date_line;
  switch (persistence) {
    case Persistence::kKeepAlive:
      out += "\r\n";
      break;
    case Persistence::kKeepAlive10:
      out += "Connection: keep-alive\r\n\r\n";
      break;
    case Persistence::kClose:
      out += "Connection: close\r\n\r\n";
      break;
  }
}

void appendCanned(std::string& out, const CannedResponse& response, std::string_view date_line,
                  Persistence persistence, bool head_only) {
  if (persistence == Persistence::kKeepAlive && date_line.size() == kDateLineSize &&
      !response.keep_alive.empty()) {
    const size_t at = out.size();
    out.append(response.keep_alive.data(),
               response.keep_alive.size() - (head_only ? response.body.size() : 0));
    std::memcpy(out.data() + at + response.head.size(), date_line.data(), kDateLineSize);
    return;
  }
  out += response.head;
  appendHeadEnd(out, date_line, persistence);
  if (!head_only) {
    out += response.body;
  }
}

}  // namespace portd::handlers::http
