#include "handlers/builtin/builtin.h"

#include "handlers/abi/abi_handler.h"
#include "handlers/discard/discard.h"
#include "handlers/dns/dns.h"
#include "handlers/echo/echo.h"
#include "handlers/http/http_config.h"
#include "handlers/resp/resp_handler.h"
#include "handlers/smtp/smtp_handler.h"
#include "handlers/stream/stream_handler.h"

namespace portd::handlers {

// One line per built-in handler. An explicit list rather than static registrars, so that the
// linker cannot drop a handler nobody references.
void registerBuiltins(Registry& registry) {
  registry.addBuiltin(abi::makeFactory(echo::definition()));
  registry.addBuiltin(abi::makeFactory(discard::definition()));
  registry.addBuiltin(abi::makeFactory(dns::definition()));
  registry.addBuiltin(std::make_shared<http::HttpFactory>());
  registry.addBuiltin(abi::makeFactory(resp::definition()));
  registry.addBuiltin(abi::makeFactory(smtp::definition()));
  registry.addBuiltin(abi::makeFactory(stream::definition()));
}

}  // namespace portd::handlers
