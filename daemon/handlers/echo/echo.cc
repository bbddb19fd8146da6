#include "handlers/echo/echo.h"

#include <bitset>
#include <portd/handler.hpp>

#include "net/address.h"

namespace portd::handlers::echo {

namespace {

struct Config {
  explicit Config(const sdk::Options& o) {
    for (int64_t p : o.getIntList("blocked_source_ports")) {
      if (p < 1 || p > 65535) {
        throw sdk::ConfigError("blocked_source_ports: ports must be between 1 and 65535");
      }
      blocked.set(static_cast<size_t>(p));
    }
  }
  std::bitset<65536> blocked;
};

class Echo {
 public:
  Echo(sdk::Worker w, const Config& c)
      : worker_(w), config_(c), dropped_(w.counter("blocked_datagrams")) {}

  void onData(sdk::Conn c, std::string_view data) { c.write(data); }

  // The listener drops datagrams from its own address and from its own blocked_source_ports
  // before this is called, for every handler; this list is echo's own, on top of that one, and
  // keeps its defaults so that echo is safe even where the listener blocks nothing.
  void onDatagram(sdk::Datagram d, const sockaddr* peer, std::string_view data) {
    uint16_t port = net::portOf(peer);
    if (port == 0 || config_.blocked.test(port)) {
      worker_.add(dropped_);
      return;
    }
    // The reply is the datagram itself, never more: echo sends at most the bytes it
    // received, so that it cannot amplify a spoofed request (bytes out <= bytes in).
    d.reply(peer, data);
  }

 private:
  sdk::Worker worker_;
  const Config& config_;
  int dropped_;
};

const portd_option_def kOptions[] = {
    {"blocked_source_ports", PORTD_OPT_INT_LIST, "[7, 13, 17, 19, 37, 53, 123]",
     "UDP source ports never answered, so that two services cannot bounce packets between "
     "them forever"},
};

const portd_handler_def kEcho = sdk::makeHandler<Config, Echo>(
    "echo", "RFC 862 echo: sends back every byte or datagram it receives", PORTD_TCP | PORTD_UDP,
    kOptions, std::size(kOptions));

}  // namespace

const portd_handler_def& definition() { return kEcho; }

}  // namespace portd::handlers::echo
