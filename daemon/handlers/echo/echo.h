#pragma once

#include "handlers/handler.h"

namespace portd::handlers::echo {

// RFC 862 echo over TCP and UDP. Over UDP it never answers a datagram that comes from a
// well-known service port (by default 7, 13, 17, 19, 37, 53, 123): a spoofed datagram "from"
// another echo or chargen service would otherwise start a loop that never ends.
class EchoFactory final : public HandlerFactory {
 public:
  EchoFactory();
  const HandlerDescriptor& descriptor() const override { return descriptor_; }
  std::shared_ptr<const HandlerConfig> configure(const Options& options) const override;

 private:
  HandlerDescriptor descriptor_;
};

}  // namespace portd::handlers::echo
