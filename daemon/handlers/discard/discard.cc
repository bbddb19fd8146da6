#include "handlers/discard/discard.h"

namespace portd::handlers::discard {

namespace {

class Discard final : public Handler {
 public:
  void onData(net::Connection& /*conn*/, std::string_view /*data*/) override {}
};

class DiscardConfig final : public HandlerConfig {
 public:
  std::unique_ptr<Handler> createInstance() const override { return std::make_unique<Discard>(); }
};

}  // namespace

DiscardFactory::DiscardFactory()
    : descriptor_{"discard", "RFC 863 discard: reads everything and answers nothing", kTcp | kUdp,
                  {}} {}

std::shared_ptr<const HandlerConfig> DiscardFactory::configure(const Options& /*options*/) const {
  return std::make_shared<DiscardConfig>();
}

}  // namespace portd::handlers::discard
