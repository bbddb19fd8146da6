// The built-in discard handler again, built as a plugin: the dispatch benchmark loads it to
// compare a call into a shared object with the same call into the daemon's own code.
#include <portd/handler.hpp>

namespace {

struct Config {
  explicit Config(const portd::sdk::Options& /*options*/) {}
};

struct Discard {
  Discard(portd::sdk::Worker /*w*/, const Config& /*c*/) {}
  void onData(portd::sdk::Conn /*c*/, std::string_view /*data*/) {}
  void onDatagram(portd::sdk::Datagram /*d*/, const sockaddr* /*peer*/, std::string_view /*data*/) {
  }
};

const portd_handler_def kHandlers[] = {portd::sdk::makeHandler<Config, Discard>(
    "plugin_discard", "discard, as a plugin", PORTD_TCP | PORTD_UDP, nullptr, 0)};

}  // namespace

PORTD_PLUGIN("dispatch-bench", "1", kHandlers)
