#include "handlers/echo/echo.h"

#include <bitset>

#include "net/address.h"
#include "net/connection.h"
#include "net/udp_socket.h"

namespace portd::handlers::echo {

namespace {

using PortSet = std::bitset<65536>;

class Echo final : public Handler {
 public:
  explicit Echo(const PortSet& blocked) : blocked_(blocked) {}

  void onData(net::Connection& conn, std::string_view data) override { conn.write(data); }

  void onDatagram(net::UdpSocket& socket, const sockaddr* peer, std::string_view data) override {
    uint16_t port = net::portOf(peer);
    if (port == 0 || blocked_.test(port)) {
      ++socket.stats().datagrams_dropped;
      return;
    }
    socket.reply(peer, data);
  }

 private:
  const PortSet& blocked_;
};

class EchoConfig final : public HandlerConfig {
 public:
  explicit EchoConfig(const std::vector<int64_t>& blocked) {
    for (int64_t p : blocked) {
      blocked_.set(static_cast<size_t>(p));
    }
  }
  std::unique_ptr<Handler> createInstance() const override {
    return std::make_unique<Echo>(blocked_);
  }

 private:
  PortSet blocked_;
};

}  // namespace

EchoFactory::EchoFactory()
    : descriptor_{"echo",
                  "RFC 862 echo: sends back every byte or datagram it receives",
                  kTcp | kUdp,
                  {{"blocked_source_ports", OptionType::kIntegerList,
                    std::vector<int64_t>{7, 13, 17, 19, 37, 53, 123},
                    "UDP source ports never answered, so that two services cannot bounce "
                    "packets between them forever"}}} {}

std::shared_ptr<const HandlerConfig> EchoFactory::configure(const Options& options) const {
  const auto& ports = options.getIntegerList("blocked_source_ports");
  for (int64_t p : ports) {
    if (p < 1 || p > 65535) {
      throw OptionError("blocked_source_ports", "ports must be between 1 and 65535");
    }
  }
  return std::make_shared<EchoConfig>(ports);
}

}  // namespace portd::handlers::echo
