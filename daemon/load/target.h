#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace portd::load {

// What `portd load` talks to: the protocol, from the URL's scheme, and where.
// kStream: portd's stream format over UDP (stream://), kStreamTcp: over TCP (stream+tcp://).
enum class Scheme { kHttp, kTcp, kUdp, kResp, kDns, kSmtp, kStream, kStreamTcp };

// Whether the scheme's requests go in datagrams (udp, dns, stream) or over a connection.
bool isDatagram(Scheme s);

std::string_view schemeName(Scheme s);

struct Target {
  Scheme scheme = Scheme::kHttp;
  std::string url;   // as given
  std::string host;  // as given (without brackets), for the Host header
  uint16_t port = 0;
  std::string path = "/";  // http: path and query
  sockaddr_storage address{};
  socklen_t address_len = 0;
};

// Parses "scheme://host:port/path" and resolves host (a literal address or a name). Default
// ports: http 80, resp 6379, dns 53, smtp 25; tcp://, udp:// and stream:// need one. Returns false
// with a message in *error.
bool parseTarget(std::string_view url, Target* out, std::string* error);

}  // namespace portd::load
