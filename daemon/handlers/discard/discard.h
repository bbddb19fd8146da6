#pragma once

#include "handlers/handler.h"

namespace portd::handlers::discard {

// RFC 863 discard over TCP and UDP: reads everything, answers nothing.
class DiscardFactory final : public HandlerFactory {
 public:
  DiscardFactory();
  const HandlerDescriptor& descriptor() const override { return descriptor_; }
  std::shared_ptr<const HandlerConfig> configure(const Options& options) const override;

 private:
  HandlerDescriptor descriptor_;
};

}  // namespace portd::handlers::discard
