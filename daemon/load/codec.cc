#include "load/codec.h"

#include "load/echo_codec.h"
#include "load/http_codec.h"
#include "load/options.h"

namespace portd::load {

std::unique_ptr<Codec> makeCodec(const LoadOptions& options) {
  switch (options.target.scheme) {
    case Scheme::kHttp:
      return std::make_unique<HttpCodec>(options);
    case Scheme::kTcp:
      return std::make_unique<EchoCodec>(options.message_size);
    case Scheme::kUdp:
      break;
  }
  return nullptr;
}

}  // namespace portd::load
