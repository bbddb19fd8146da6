#include "handlers/http/echo_endpoint.h"

#include <algorithm>
#include <array>

#include "handlers/http/field_syntax.h"
#include "handlers/http/status.h"

namespace portd::handlers::http {

namespace {

void appendFiller(std::string& out, uint64_t size) {
  const std::string_view block = echoFiller();
  while (size > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(size, block.size()));
    out.append(block.data(), n);
    size -= n;
  }
}

}  // namespace

std::string_view echoFiller() {
  // Printable lines, so that a body shown in a terminal stays readable. 64 KiB, so that a large
  // body goes out in few write buffers.
  static const std::string block = [] {
    const std::string line = "portd echo filler abcdefghijklmnopqrstuvwxyz 0123456789 ABCDE\n";
    std::string b;
    while (b.size() < 64 * 1024) {
      b += line;
    }
    return b;
  }();
  return block;
}

uint64_t appendEchoResponse(std::string& out, const EchoRequest& request, const EchoKnobs& knobs,
                            const EchoDecision& decision, std::string_view date_line,
                            Persistence persistence, bool head_only) {
  appendStatusLine(out, decision.status);
  bool custom_type = false;
  auto chosen = [&](size_t i) { return (decision.headers & (1u << i)) != 0; };
  for (size_t i = 0; i < knobs.header_count; ++i) {
    custom_type =
        custom_type || (chosen(i) && equalsIgnoreCase(knobs.header_names[i], "content-type"));
  }
  const bool body_allowed = !statusHasNoBody(decision.status);
  if (body_allowed) {
    if (!custom_type) {
      out += "Content-Type: text/plain\r\n";
    }
    constexpr std::string_view kVersion = "HTTP/1.";
    const uint64_t length = decision.has_size
                                ? decision.size
                                : request.method.size() + 1 + request.target.size() + 1 +
                                      kVersion.size() + 1 + 2 + request.headers.size() + 2 +
                                      request.body.size();
    appendContentLength(out, length);
  }
  for (size_t i = 0; i < knobs.header_count; ++i) {
    if (!chosen(i)) {
      continue;
    }
    out += knobs.header_names[i];
    out += ": ";
    out += knobs.header_values[i];
    out += "\r\n";
  }
  appendHeadEnd(out, date_line, persistence);
  if (head_only || !body_allowed) {
    return 0;
  }
  if (decision.has_size) {
    if (decision.size > kInlineFillerBytes) {
      return decision.size;
    }
    appendFiller(out, decision.size);
    return 0;
  }
  out += request.method;
  out += ' ';
  out += request.target;
  out += " HTTP/1.";
  out += static_cast<char>('0' + request.http_minor);
  out += "\r\n";
  out += request.headers;
  out += "\r\n";
  out += request.body;
  return 0;
}

void appendKnobError(std::string& out, std::string_view message, std::string_view date_line,
                     Persistence persistence, bool head_only) {
  appendStatusLine(out, 400);
  out += "Content-Type: text/plain\r\n";
  appendContentLength(out, message.size() + 1);
  appendHeadEnd(out, date_line, persistence);
  if (!head_only) {
    out += message;
    out += '\n';
  }
}

}  // namespace portd::handlers::http
