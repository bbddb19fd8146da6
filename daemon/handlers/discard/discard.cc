#include "handlers/discard/discard.h"

#include <portd/handler.hpp>

namespace portd::handlers::discard {

namespace {

struct Config {
  explicit Config(const sdk::Options& /*options*/) {}
};

struct Discard {
  Discard(sdk::Worker /*w*/, const Config& /*c*/) {}
  void onData(sdk::Conn /*c*/, std::string_view /*data*/) {}
  void onDatagram(sdk::Datagram /*d*/, const sockaddr* /*peer*/, std::string_view /*data*/) {}
};

const portd_handler_def kDiscard = sdk::makeHandler<Config, Discard>(
    "discard", "RFC 863 discard: reads everything and answers nothing", PORTD_TCP | PORTD_UDP,
    nullptr, 0);

}  // namespace

const portd_handler_def& definition() { return kDiscard; }

}  // namespace portd::handlers::discard
