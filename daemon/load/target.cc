#include "load/target.h"

#include <netdb.h>

#include <charconv>
#include <cstring>

namespace portd::load {

std::string_view schemeName(Scheme s) {
  switch (s) {
    case Scheme::kHttp:
      return "http";
    case Scheme::kTcp:
      return "tcp";
    case Scheme::kUdp:
      return "udp";
    case Scheme::kResp:
      return "resp";
    case Scheme::kDns:
      return "dns";
    case Scheme::kSmtp:
      return "smtp";
    case Scheme::kStream:
      return "stream";
    case Scheme::kStreamTcp:
      return "stream+tcp";
  }
  return "?";
}

bool isDatagram(Scheme s) { return s == Scheme::kUdp || s == Scheme::kDns || s == Scheme::kStream; }

namespace {

uint16_t defaultPort(Scheme s) {
  switch (s) {
    case Scheme::kHttp:
      return 80;
    case Scheme::kResp:
      return 6379;
    case Scheme::kDns:
      return 53;
    case Scheme::kSmtp:
      return 25;
    case Scheme::kTcp:
    case Scheme::kUdp:
    case Scheme::kStream:
    case Scheme::kStreamTcp:
      break;
  }
  return 0;
}

}  // namespace

bool parseTarget(std::string_view url, Target* out, std::string* error) {
  Target t;
  t.url = std::string(url);
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    *error = "\"" + t.url +
             "\": not a URL (expected SCHEME://HOST[:PORT], SCHEME one of http, tcp, "
             "udp, resp, dns, smtp, stream, stream+tcp)";
    return false;
  }
  const std::string_view scheme = url.substr(0, sep);
  if (scheme == "http") {
    t.scheme = Scheme::kHttp;
  } else if (scheme == "tcp") {
    t.scheme = Scheme::kTcp;
  } else if (scheme == "udp") {
    t.scheme = Scheme::kUdp;
  } else if (scheme == "resp" || scheme == "redis") {
    t.scheme = Scheme::kResp;
  } else if (scheme == "dns") {
    t.scheme = Scheme::kDns;
  } else if (scheme == "smtp") {
    t.scheme = Scheme::kSmtp;
  } else if (scheme == "stream" || scheme == "stream+udp") {
    t.scheme = Scheme::kStream;
  } else if (scheme == "stream+tcp") {
    t.scheme = Scheme::kStreamTcp;
  } else if (scheme == "https") {
    *error = "\"" + t.url + "\": https is not supported (plain http://, tcp:// or udp://)";
    return false;
  } else {
    *error = "\"" + t.url + "\": unknown scheme \"" + std::string(scheme) +
             "\" (expected http, tcp, udp, resp, dns, smtp, stream or stream+tcp)";
    return false;
  }
  std::string_view rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    if (t.scheme != Scheme::kHttp && rest.substr(slash) != "/") {
      *error = "\"" + t.url + "\": a " + std::string(scheme) + ":// URL has no path";
      return false;
    }
    t.path = std::string(rest.substr(slash));
  }
  if (authority.find('@') != std::string_view::npos) {
    *error = "\"" + t.url + "\": user information in the URL is not supported";
    return false;
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = "\"" + t.url + "\": unclosed '[' in the address";
      return false;
    }
    t.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        *error = "\"" + t.url + "\": expected ':PORT' after ']'";
        return false;
      }
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
  }
  if (t.host.empty()) {
    *error = "\"" + t.url + "\": no host";
    return false;
  }
  if (port_text.empty()) {
    t.port = defaultPort(t.scheme);
    if (t.port == 0) {
      *error = "\"" + t.url + "\": a " + std::string(scheme) + ":// URL needs a port";
      return false;
    }
  } else {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      *error = "\"" + t.url + "\": bad port \"" + std::string(port_text) + "\" (1-65535)";
      return false;
    }
    t.port = static_cast<uint16_t>(port);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = isDatagram(t.scheme) ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(t.port);
  int rc = ::getaddrinfo(t.host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    *error = "\"" + t.url + "\": cannot resolve \"" + t.host + "\": " + ::gai_strerror(rc);
    return false;
  }
  std::memcpy(&t.address, found->ai_addr, found->ai_addrlen);
  t.address_len = found->ai_addrlen;
  ::freeaddrinfo(found);
  *out = std::move(t);
  return true;
}

}  // namespace portd::load
