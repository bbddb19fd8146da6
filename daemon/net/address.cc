#include "net/address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace portd::net {

std::optional<Address> Address::parse(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) {
    *error = "invalid address \"" + std::string(text) + "\": " + why;
    return std::nullopt;
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return fail("missing ']' after the IPv6 address");
    }
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("expected \":PORT\" after ']'");
    }
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return fail("expected HOST:PORT, e.g. \"127.0.0.1:7000\" or \"[::1]:7000\"");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("IPv6 addresses must be written in brackets, e.g. \"[::1]:7000\"");
    }
  }
  unsigned port_number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() ||
      port_number > 65535) {
    return fail("port must be a number from 0 to 65535");
  }
  Address a;
  std::string host_z(host);
  if (text.starts_with('[')) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    if (inet_pton(AF_INET6, host_z.c_str(), &sin6->sin6_addr) != 1) {
      return fail("\"" + host_z + "\" is not an IPv6 address");
    }
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port_number));
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage_);
    if (inet_pton(AF_INET, host_z.c_str(), &sin->sin_addr) != 1) {
      return fail("\"" + host_z + "\" is not an IPv4 address (host names are not resolved)");
    }
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port_number));
  }
  return a;
}

Address Address::fromSockaddr(const sockaddr* sa) {
  Address a;
  if (sa->sa_family == AF_INET) {
    std::memcpy(&a.storage_, sa, sizeof(sockaddr_in));
  } else if (sa->sa_family == AF_INET6) {
    std::memcpy(&a.storage_, sa, sizeof(sockaddr_in6));
  }
  return a;
}

socklen_t Address::length() const {
  return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

uint16_t portOf(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  }
  if (sa->sa_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
  }
  return 0;
}

uint16_t Address::port() const { return portOf(sockaddr_ptr()); }

void Address::setPort(uint16_t port) {
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  } else if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  }
}

bool Address::isLoopback() const {
  if (family() == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(&storage_);
    return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
  }
  if (family() == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
  }
  return false;
}

std::string Address::toString() const {
  char host[INET6_ADDRSTRLEN] = {0};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, host,
              sizeof host);
    return std::string(host) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, host,
              sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(port());
  }
  return "(unspecified)";
}

bool Address::operator==(const Address& other) const {
  return family() == other.family() && length() == other.length() &&
         std::memcmp(&storage_, &other.storage_, length()) == 0;
}

}  // namespace portd::net
