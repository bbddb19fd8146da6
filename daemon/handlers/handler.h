#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/options.h"
#include "net/handler.h"

namespace portd::handlers {

// The interface a listener drives lives in net/ (the layer below); handlers implement it.
using config::ByteSize;
using config::OptionError;
using config::Options;
using config::OptionSpec;
using config::OptionType;
using config::OptionValue;
using net::Handler;
using net::HandlerConfig;
using net::InstanceContext;

// Which transports a handler speaks; a bit set.
enum Protocols : unsigned { kTcp = 1u << 0, kUdp = 1u << 1 };

struct HandlerDescriptor {
  std::string name;
  std::string description;
  unsigned protocols = 0;
  std::vector<OptionSpec> options;
};

// What a registry entry provides: a description with an option schema, and a way to turn
// validated options into a HandlerConfig.
class HandlerFactory {
 public:
  virtual ~HandlerFactory() = default;
  virtual const HandlerDescriptor& descriptor() const = 0;
  // Throws OptionError for a value the handler cannot accept.
  virtual std::shared_ptr<const HandlerConfig> configure(const Options& options) const = 0;
};

std::string protocolsToString(unsigned protocols);

}  // namespace portd::handlers
