#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portd::net {

// An IPv4 or IPv6 socket address. Listeners take IP literals only ("127.0.0.1:7000",
// "[::1]:7000", "0.0.0.0:7000"): resolving names at start-up would make the bound address depend
// on the resolver of the moment, which a configuration check could not show.
class Address {
 public:
  Address() = default;
  static std::optional<Address> parse(std::string_view text, std::string* error);
  static Address fromSockaddr(const sockaddr* sa);

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const;
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  void setPort(uint16_t port);
  // Whether the address can only be reached from this host.
  bool isLoopback() const;
  // "127.0.0.1:7000" or "[::1]:7000".
  std::string toString() const;

  bool operator==(const Address& other) const;

 private:
  sockaddr_storage storage_{};
};

// Port of a sockaddr_in or sockaddr_in6, in host byte order; 0 for other families.
uint16_t portOf(const sockaddr* sa);

}  // namespace portd::net
