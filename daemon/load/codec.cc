#include "load/codec.h"

#include <atomic>

#include "load/datagram.h"
#include "load/dns_codec.h"
#include "load/echo_codec.h"
#include "load/http_codec.h"
#include "load/options.h"
#include "load/resp_codec.h"
#include "load/smtp_codec.h"
#include "load/sockperf_codec.h"
#include "load/stream_codec.h"

namespace portd::load {

std::unique_ptr<Codec> makeCodec(const LoadOptions& options) {
  // resp: each connection's key sequence from a seed of its own (any thread may ask).
  static std::atomic<uint64_t> resp_seed{0};
  switch (options.target.scheme) {
    case Scheme::kHttp:
      return std::make_unique<HttpCodec>(options);
    case Scheme::kTcp:
      if (options.sockperf) {
        return std::make_unique<SockperfCodec>(options.message_size);
      }
      return std::make_unique<EchoCodec>(options.message_size);
    case Scheme::kResp:
      return std::make_unique<RespCodec>(options, resp_seed.fetch_add(1));
    case Scheme::kSmtp:
      return std::make_unique<SmtpCodec>(options);
    case Scheme::kStreamTcp:
      return std::make_unique<StreamCodec>(options.message_size);
    case Scheme::kUdp:
    case Scheme::kDns:
    case Scheme::kStream:
      break;
  }
  return nullptr;
}

std::unique_ptr<DatagramCodec> makeDatagramCodec(const LoadOptions& options) {
  switch (options.target.scheme) {
    case Scheme::kUdp:
      if (options.sockperf) {
        return std::make_unique<SockperfDatagramCodec>(options.message_size);
      }
      return std::make_unique<EchoDatagramCodec>(options.message_size);
    case Scheme::kDns:
      return makeDnsCodec(options.queries, options.dns_edns);
    case Scheme::kStream:
      return std::make_unique<StreamDatagramCodec>(options.message_size);
    case Scheme::kHttp:
    case Scheme::kTcp:
    case Scheme::kResp:
    case Scheme::kSmtp:
    case Scheme::kStreamTcp:
      break;
  }
  return nullptr;
}

}  // namespace portd::load
