#include "admin/admin_routes.h"

#include "admin/metrics.h"
#include "config/toml_writer.h"
#include "handlers/http/http_config.h"

namespace portd::admin {

bool AdminRoutes::respond(std::string_view path, Response* out) const {
  if (path == "/healthz") {
    bool ok = state_.healthy();
    *out = {ok ? 200 : 503, "text/plain", ok ? "ok\n" : "a worker loop has not turned for 1 s\n"};
  } else if (path == "/readyz") {
    switch (state_.phase()) {
      case admin::ServerState::Phase::kReady:
        *out = {200, "text/plain", "ready\n"};
        break;
      case admin::ServerState::Phase::kStarting:
        *out = {503, "text/plain", "starting\n"};
        break;
      case admin::ServerState::Phase::kDraining:
        *out = {503, "text/plain", "draining\n"};
        break;
    }
  } else if (path == "/metrics") {
    *out = {200, "text/plain; version=0.0.4; charset=utf-8", renderPrometheus(state_)};
  } else if (path == "/stats") {
    *out = {200, "application/json", renderStatsJson(state_)};
  } else if (path == "/config") {
    *out = {200, "application/toml", config::renderConfigToml(state_.config())};
  } else {
    return false;
  }
  return true;
}

std::shared_ptr<const net::HandlerConfig> adminHandlerConfig(const admin::ServerState& state) {
  handlers::http::HttpFactory factory;
  std::map<std::string, config::OptionValue> values;
  for (const config::OptionSpec& spec : factory.descriptor().options) {
    values[spec.name] = spec.default_value;
  }
  values["echo"] = false;
  config::Options options(std::move(values));
  return std::make_shared<handlers::http::HttpConfig>(options,
                                                      std::make_shared<AdminRoutes>(state));
}

}  // namespace portd::admin
