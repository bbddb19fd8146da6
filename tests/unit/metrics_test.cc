#include "admin/metrics.h"

#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/toml_writer.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"

namespace portd::admin {
namespace {

std::shared_ptr<const config::Config> twoListeners() {
  handlers::Registry r;
  handlers::registerBuiltins(r);
  return handlers::loadAndBind(
      "[[listener]]\nname = \"t\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
      "handler = \"echo\"\n"
      "[[listener]]\nname = \"u\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n"
      "handler = \"echo\"\n",
      "m.toml", r);
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(Metrics, SumsTheWorkersCounters) {
  admin::ServerState state(twoListeners(), 2);
  state.worker(0).listeners["t"]->accepted += 3;
  state.worker(1).listeners["t"]->accepted += 4;
  state.worker(1).listeners["t"]->closed += 2;
  state.worker(0).listeners["u"]->datagrams_in += 5;
  state.worker(1).listeners["u"]->datagrams_dropped += 1;
  auto& counters = state.worker(0).listeners["u"]->handler;
  counters.add(counters.index("blocked_datagrams"), 9);
  std::string m = renderPrometheus(state);
  const std::string t = R"(listener="t",handler="echo",protocol="tcp")";
  const std::string u = R"(listener="u",handler="echo",protocol="udp")";
  EXPECT_TRUE(has(m, "portd_connections_accepted_total{" + t + "} 7")) << m;
  EXPECT_TRUE(has(m, "portd_connections_active{" + t + "} 5")) << m;
  EXPECT_TRUE(has(m, "portd_datagrams_received_total{" + u + "} 5")) << m;
  EXPECT_TRUE(has(m, "portd_errors_total{" + u + ",kind=\"datagram_dropped\"} 1")) << m;
  EXPECT_TRUE(has(m, "portd_handler_events_total{" + u + ",name=\"blocked_datagrams\"} 9")) << m;
  EXPECT_TRUE(has(m, "portd_workers 2")) << m;
  EXPECT_NE(m.find("portd_build_info{version=\""), std::string::npos);
}

// One series per listening socket (each worker's SO_REUSEPORT socket has its own queue), read
// through the reader the supervisor sets; UDP listeners have none.
TEST(Metrics, ListenQueuesPerSocket) {
  admin::ServerState state(twoListeners(), 2);
  std::vector<std::string> asked;
  state.setListenQueueReader([&](const std::string& name) {
    asked.push_back(name);
    return std::vector<net::ListenQueue>{{3, 7}, {0, 7}};
  });
  std::string m = renderPrometheus(state);
  const std::string t = R"(listener="t",handler="echo",protocol="tcp")";
  EXPECT_TRUE(has(m, "portd_listen_queue_length{" + t + ",socket=\"0\"} 3")) << m;
  EXPECT_TRUE(has(m, "portd_listen_queue_length{" + t + ",socket=\"1\"} 0")) << m;
  EXPECT_TRUE(has(m, "portd_listen_queue_limit{" + t + ",socket=\"0\"} 7")) << m;
  EXPECT_TRUE(has(m, "portd_listen_queue_limit{" + t + ",socket=\"1\"} 7")) << m;
  EXPECT_EQ(m.find(R"(portd_listen_queue_length{listener="u")"), std::string::npos) << m;
  EXPECT_EQ(asked, std::vector<std::string>{"t"});
  std::string json = renderStatsJson(state);
  EXPECT_NE(json.find(R"("listen_queues" : [)"), std::string::npos) << json;

  // Without a reader (no sockets), the families are there and empty.
  admin::ServerState bare(twoListeners(), 1);
  m = renderPrometheus(bare);
  EXPECT_NE(m.find("# TYPE portd_listen_queue_length gauge"), std::string::npos);
  EXPECT_EQ(m.find("portd_listen_queue_length{"), std::string::npos) << m;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  admin::ServerState state(twoListeners(), 1);
  net::RequestStats& r = state.worker(0).listeners["t"]->requests;
  r.has_requests = true;  // as a handler with requests sets it
  ++r.requests;
  ++r.requests;
  r.observe(50);       // <= 100 us
  r.observe(3000000);  // <= 10 s
  r.respond(200);
  r.respond(503);
  std::string m = renderPrometheus(state);
  const std::string t = R"(listener="t",handler="echo",protocol="tcp")";
  EXPECT_TRUE(has(m, "portd_request_duration_seconds_bucket{" + t + ",le=\"0.0001\"} 1")) << m;
  EXPECT_TRUE(has(m, "portd_request_duration_seconds_bucket{" + t + ",le=\"1\"} 1")) << m;
  EXPECT_TRUE(has(m, "portd_request_duration_seconds_bucket{" + t + ",le=\"+Inf\"} 2")) << m;
  EXPECT_TRUE(has(m, "portd_request_duration_seconds_count{" + t + "} 2")) << m;
  EXPECT_TRUE(has(m, "portd_responses_total{" + t + ",class=\"5xx\"} 1")) << m;
}

TEST(Metrics, AStuckWorkerIsUnhealthyAndAnExitedOneIsIgnored) {
  admin::ServerState state(twoListeners(), 2);
  EXPECT_TRUE(state.healthy());
  state.worker(1).heartbeat_ms = admin::ServerState::nowMs() - 5000;
  EXPECT_FALSE(state.healthy());
  state.worker(1).exited = true;
  EXPECT_TRUE(state.healthy());
}

TEST(Metrics, StatsAndConfigRender) {
  auto cfg = twoListeners();
  admin::ServerState state(cfg, 1);
  std::string json = renderStatsJson(state);
  EXPECT_NE(json.find("\"phase\" : \"starting\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"name\" : \"u\""), std::string::npos) << json;
  std::string toml = config::renderConfigToml(*cfg);
  // What /config shows loads again as the same configuration.
  handlers::Registry r;
  handlers::registerBuiltins(r);
  auto again = handlers::loadAndBind(toml, "again.toml", r);
  ASSERT_EQ(again->listeners.size(), 2u);
  EXPECT_EQ(again->listeners[1].name, "u");
  EXPECT_EQ(std::get<std::vector<int64_t>>(
                again->listeners[0].options->values().at("blocked_source_ports")),
            (std::vector<int64_t>{7, 13, 17, 19, 37, 53, 123}));
}

}  // namespace
}  // namespace portd::admin
