#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "handlers/handler.h"
#include "handlers/http/knobs.h"
#include "handlers/http/response.h"
#include "handlers/http/routes.h"

namespace portd::handlers::http {

struct HttpLimits {
  uint64_t max_header_bytes = 16 * 1024;  // request line and header fields
  uint64_t max_headers = 100;             // header fields per request
  uint64_t max_body_bytes = 1 << 20;
  uint64_t header_timeout_ms = 10'000;     // first byte to end of head; 0 = none
  uint64_t keepalive_timeout_ms = 75'000;  // idle between requests; 0 = none
};

struct EchoSettings {
  bool enabled = true;
  std::string prefix = "/echo";
  EchoLimits limits;

  // Whether `path` is the echo endpoint: the prefix itself or a path below it.
  bool matches(std::string_view path) const {
    return enabled && path.starts_with(prefix) &&
           (path.size() == prefix.size() || prefix.back() == '/' || path[prefix.size()] == '/');
  }
};

// Responses the daemon makes per request (the admin endpoint: /metrics, /healthz, ...), as
// opposed to routes rendered once from the configuration. Called on the listener's loop thread.
class DynamicRoutes {
 public:
  struct Response {
    int status = 200;
    std::string content_type;
    std::string body;
  };
  virtual ~DynamicRoutes() = default;
  // True, with `out` filled in, when `path` is one of these routes.
  virtual bool respond(std::string_view path, Response* out) const = 0;
};

// The checked configuration of one http listener: routes with their responses rendered, limits
// and the echo endpoint's settings. Immutable and shared by the workers' handler instances.
class HttpConfig final : public HandlerConfig {
 public:
  // Throws OptionError for a value that cannot be used (the loader has checked the types).
  // `dynamic` routes, if any, are looked up before the fixed ones.
  explicit HttpConfig(const Options& options, std::shared_ptr<const DynamicRoutes> dynamic = {});

  std::unique_ptr<Handler> createInstance(const InstanceContext& where) const override;

  const HttpLimits& limits() const { return limits_; }
  const EchoSettings& echo() const { return echo_; }
  const RouteTable& routes() const { return routes_; }
  const DynamicRoutes* dynamic() const { return dynamic_.get(); }
  // The canned response for one of the statuses the handler produces by itself: 400, 404, 405,
  // 408, 413, 417, 431 and 505. Anything else gives the 400 one.
  const CannedResponse& canned(int status) const;

 private:
  void readRoutes(const Options& options);

  HttpLimits limits_;
  EchoSettings echo_;
  RouteTable routes_;
  std::shared_ptr<const DynamicRoutes> dynamic_;
  std::array<CannedResponse, 8> canned_;
};

// The "http" handler: an HTTP/1.1 test target with fixed routes and a Fortio-style echo
// endpoint. See docs/http.md.
class HttpFactory final : public HandlerFactory {
 public:
  HttpFactory();
  const HandlerDescriptor& descriptor() const override { return descriptor_; }
  std::shared_ptr<const HandlerConfig> configure(const Options& options) const override;

 private:
  HandlerDescriptor descriptor_;
};

}  // namespace portd::handlers::http
