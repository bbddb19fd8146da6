#include "load/codec.h"

#include "load/datagram.h"
#include "load/dns_codec.h"
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
    case Scheme::kResp:
    case Scheme::kDns:
    case Scheme::kSmtp:
      break;
  }
  return nullptr;
}

std::unique_ptr<DatagramCodec> makeDatagramCodec(const LoadOptions& options) {
  switch (options.target.scheme) {
    case Scheme::kUdp:
      return std::make_unique<EchoDatagramCodec>(options.message_size);
    case Scheme::kDns:
      return makeDnsCodec(options.queries, options.dns_edns);
    case Scheme::kHttp:
    case Scheme::kTcp:
    case Scheme::kResp:
    case Scheme::kSmtp:
      break;
  }
  return nullptr;
}

}  // namespace portd::load
