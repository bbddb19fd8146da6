#pragma once

#include <memory>

#include "admin/server_state.h"
#include "handlers/handler.h"
#include "handlers/http/http_config.h"

namespace portd::admin {

// The admin endpoint's routes, answered by the http handler's code on a listener of its own:
//   /healthz  200 while every worker loop has turned within the last second, else 503
//   /readyz   200 once every listener is bound; 503 while starting and while draining
//   /metrics  Prometheus text;  /stats  the same as JSON;  /config  the configuration in force
// It runs on the main thread's loop, not on a worker: a stuck worker must not be able to keep
// /healthz from saying so, and the endpoint keeps answering through a drain.
class AdminRoutes final : public handlers::http::DynamicRoutes {
 public:
  explicit AdminRoutes(const admin::ServerState& state) : state_(state) {}
  bool respond(std::string_view path, Response* out) const override;

 private:
  const admin::ServerState& state_;
};

// The http handler configuration of the admin listener: the handler's defaults, no /echo, and
// the routes above.
std::shared_ptr<const net::HandlerConfig> adminHandlerConfig(const admin::ServerState& state);

}  // namespace portd::admin
