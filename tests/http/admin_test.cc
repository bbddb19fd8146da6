// The admin endpoint, from outside: curl for every route, promtool for /metrics, readiness
// during a drain, health with a stuck worker, and the reload counters.

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <regex>

#include "http_client.h"

namespace portd::itest {
namespace {

// GET with curl; status and body.
HttpResponse fetch(const Endpoint& e, std::string_view path) {
  CommandResult r = runCurl({"-s", "-w", "\n%{http_code}", url(e, path)});
  HttpResponse out;
  size_t cut = r.out.rfind('\n');
  if (cut != std::string::npos) {
    out.body = r.out.substr(0, cut);
    out.status = std::atoi(r.out.c_str() + cut + 1);
  }
  return out;
}

// Runs a shell command line; its exit status and output.
CommandResult shell(const std::string& command) {
  ChildProcess child({"/bin/sh", {"-c", command}, std::nullopt, {}, {}, ""});
  CommandResult r;
  r.status = child.wait(20s);
  r.out = child.stdoutText();
  r.err = child.stderrText();
  return r;
}

// The value of the sample whose line starts with `series` ("name{labels}"), or -1.
double sample(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

// Waits until the daemon has counted `n` requests on the listener "web". A request it has read
// is in progress, and a drain waits for it; one still queued in the kernel when SIGTERM comes
// is never accepted, and the daemon may exit without it.
::testing::AssertionResult waitForWebRequests(const Endpoint& admin, double n) {
  const std::string series =
      R"(portd_requests_total{listener="web",handler="http",protocol="tcp"})";
  const Clock::time_point deadline = Clock::now() + kIoTimeout;
  for (;;) {
    const double got = sample(fetch(admin, "/metrics").body, series);
    if (got >= n) {
      return ::testing::AssertionSuccess();
    }
    if (Clock::now() >= deadline) {
      return ::testing::AssertionFailure() << series << " is " << got << ", not " << n;
    }
  }
}

const std::string kBase = R"toml(
[server]
workers = 2
shutdown_timeout = "10s"

[admin]
address = "127.0.0.1:0"

[[listener]]
name = "web"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "http"

[[listener]]
name = "echo-tcp"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"

[[listener]]
name = "echo-udp"
protocol = "udp"
address = "127.0.0.1:0"
handler = "echo"
)toml";

TEST(AdminTest, HealthReadinessStatsAndConfig) {
  Daemon d;
  ASSERT_TRUE(d.start(kBase));
  Endpoint admin = d.admin();
  HttpResponse h = fetch(admin, "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok\n");
  HttpResponse r = fetch(admin, "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
  EXPECT_EQ(fetch(admin, "/nothing-here").status, 404);

  HttpResponse stats = fetch(admin, "/stats");
  EXPECT_EQ(stats.status, 200);
  TempFile json(stats.body);
  CommandResult parsed = shell(
      "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
      "print(d[\"phase\"], d[\"workers\"], len(d[\"listeners\"]))' " +
      json.path());
  EXPECT_EQ(parsed.out, "ready 2 3\n") << parsed.err << stats.body;

  // /config is the configuration in force, complete: it loads again as it is.
  HttpResponse config = fetch(admin, "/config");
  EXPECT_EQ(config.status, 200);
  TempFile again(config.body);
  CommandResult check = runPortd({"check", "-c", again.path()});
  EXPECT_EQ(check.status, ExitStatus::exited(0)) << check.err << config.body;
  EXPECT_NE(config.body.find("max_header_bytes = 16384"), std::string::npos) << config.body;
  EXPECT_TRUE(d.stop());
}

TEST(AdminTest, MetricsPassPromtoolAndCountTheTraffic) {
  Daemon d;
  ASSERT_TRUE(d.start(kBase));
  Endpoint admin = d.admin();
  for (std::string_view path : {"/echo", "/echo?status=503", "/missing"}) {
    runCurl({"-s", "-o", "/dev/null", url(d.listener("web"), path)});
  }
  Fd c = connectTcp(d.listener("echo-tcp"));
  ASSERT_TRUE(echoRoundTrip(c.get(), "counted"));
  Fd u = bindUdp(Endpoint::loopback(AF_INET));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(sendDatagram(u.get(), d.listener("echo-udp"), "dgram"));
    ASSERT_TRUE(receiveDatagram(u.get()));
  }
  HttpResponse m = fetch(admin, "/metrics");
  ASSERT_EQ(m.status, 200);
  TempFile file(m.body);
  CommandResult promtool = shell("promtool check metrics < " + file.path());
  EXPECT_EQ(promtool.status, ExitStatus::exited(0)) << promtool.out << promtool.err;

  const std::string web = R"(listener="web",handler="http",protocol="tcp")";
  const std::string tcp = R"(listener="echo-tcp",handler="echo",protocol="tcp")";
  const std::string udp = R"(listener="echo-udp",handler="echo",protocol="udp")";
  EXPECT_EQ(sample(m.body, "portd_requests_total{" + web + "}"), 3) << m.body;
  EXPECT_EQ(sample(m.body, "portd_responses_total{" + web + ",class=\"2xx\"}"), 1);
  EXPECT_EQ(sample(m.body, "portd_responses_total{" + web + ",class=\"4xx\"}"), 1);
  EXPECT_EQ(sample(m.body, "portd_responses_total{" + web + ",class=\"5xx\"}"), 1);
  EXPECT_EQ(sample(m.body, "portd_request_duration_seconds_count{" + web + "}"), 3);
  EXPECT_EQ(sample(m.body, "portd_connections_accepted_total{" + tcp + "}"), 1);
  EXPECT_EQ(sample(m.body, "portd_connections_active{" + tcp + "}"), 1);
  EXPECT_EQ(sample(m.body, "portd_bytes_received_total{" + tcp + "}"), 7);
  EXPECT_EQ(sample(m.body, "portd_datagrams_received_total{" + udp + "}"), 2);
  EXPECT_EQ(sample(m.body, "portd_datagrams_sent_total{" + udp + "}"), 2);
  // Echo sends back exactly what it gets: one byte out per byte in.
  EXPECT_EQ(sample(m.body, "portd_udp_amplification_ratio{" + udp + "}"), 1.0);
  EXPECT_EQ(sample(m.body, "portd_workers"), 2);
  EXPECT_GT(sample(m.body, "process_open_fds"), 0);
  EXPECT_GT(sample(m.body, "process_resident_memory_bytes"), 0);
  EXPECT_NE(m.body.find("portd_build_info{version=\"" PORTD_EXPECTED_VERSION "\",compiler=\""),
            std::string::npos);
  c.reset();
  EXPECT_TRUE(d.stop());
}

TEST(AdminTest, ReadyzIs503WhileDraining) {
  Daemon d;
  ASSERT_TRUE(d.start(kBase));
  Endpoint admin = d.admin();
  // A slow request keeps the drain going. The checks below take a tenth of its delay or less.
  Fd slow = connectTcp(d.listener("web"));
  ASSERT_TRUE(sendAll(slow.get(), getRequest("/echo?delay=2s")));
  ASSERT_TRUE(waitForWebRequests(admin, 1));
  d.signal(SIGTERM);
  ASSERT_TRUE(d.waitForLog("draining"));
  HttpResponse r = fetch(admin, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "draining\n");
  EXPECT_EQ(fetch(admin, "/healthz").status, 200) << "draining is not unhealthy";
  auto responses = readResponses(slow.get(), 1);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 200) << "the request in flight completes";
  slow.reset();
  EXPECT_EQ(d.waitExit(10s), ExitStatus::exited(0));
}

TEST(AdminTest, HealthzFailsWhileAWorkerIsStuckAndPluginCountersShow) {
  // The worker stays blocked while this file exists: until /healthz has said 503, however long
  // that takes, rather than for a fixed time the check might outlast on a slow machine.
  auto hold = std::make_unique<TempFile>("", ".hold");
  Daemon d;
  ASSERT_TRUE(d.start(std::string("[server]\nworkers = 1\n[admin]\naddress = \"127.0.0.1:0\"\n"
                                  "[[plugin]]\npath = \"") +
                      PORTD_HANG_PLUGIN +
                      "\"\n[[listener]]\nname = \"stuck\"\nprotocol = \"tcp\"\n"
                      "address = \"127.0.0.1:0\"\nhandler = \"hang\"\n"
                      "[listener.options]\nhang = \"60s\"\nhold = \"" +
                      hold->path() + "\"\n"));
  Endpoint admin = d.admin();
  EXPECT_EQ(fetch(admin, "/healthz").status, 200);
  Fd c = connectTcp(d.listener("stuck"));
  ASSERT_TRUE(sendAll(c.get(), "x"));
  // Once the heartbeat is a second old, /healthz says 503.
  HttpResponse h;
  auto deadline = Clock::now() + kIoTimeout;
  while ((h = fetch(admin, "/healthz")).status == 200 && Clock::now() < deadline) {
  }
  EXPECT_EQ(h.status, 503);
  EXPECT_NE(h.body.find("has not turned"), std::string::npos) << h.body;
  // And healthy again once it turns.
  hold.reset();
  deadline = Clock::now() + 5s;
  while ((h = fetch(admin, "/healthz")).status != 200 && Clock::now() < deadline) {
  }
  EXPECT_EQ(h.status, 200);
  HttpResponse m = fetch(admin, "/metrics");
  EXPECT_EQ(
      sample(
          m.body,
          R"(portd_handler_events_total{listener="stuck",handler="hang",protocol="tcp",name="reads"})"),
      1)
      << m.body;
  c.reset();
  EXPECT_TRUE(d.stop());
}

TEST(AdminTest, ReloadsAndRefusedReloadsAreCounted) {
  Daemon d;
  ASSERT_TRUE(d.start(kBase));
  Endpoint admin = d.admin();
  d.rewriteConfig(kBase + "[[listener]]\nname = \"x\"\n");
  ASSERT_TRUE(d.reload(1));
  d.rewriteConfig(kBase);
  ASSERT_TRUE(d.reload(2));
  HttpResponse m = fetch(admin, "/metrics");
  EXPECT_EQ(sample(m.body, "portd_reload_failures_total"), 1) << m.body;
  EXPECT_EQ(sample(m.body, "portd_reloads_total"), 1);
  EXPECT_EQ(d.admin().toString(), admin.toString()) << "the admin endpoint stays where it was";
  EXPECT_TRUE(d.stop());
}

}  // namespace
}  // namespace portd::itest

namespace portd::itest {
namespace {

// As nginx does on a graceful stop: idle keep-alive connections close at once, a request in
// progress gets its response with "Connection: close", and the drain does not wait for
// clients to hang up.
TEST(HttpDrainTest, KeepAliveConnectionsCloseAfterTheirLastResponse) {
  Daemon d;
  std::string config = httpConfig("", "", 2);
  const std::string two = "shutdown_timeout = \"2s\"";
  config.replace(config.find(two), two.size(), "shutdown_timeout = \"30s\"");
  config += "\n[admin]\naddress = \"127.0.0.1:0\"\n";
  ASSERT_TRUE(d.start(config));
  Fd idle = connectTcp(d.listener("web"));
  ASSERT_TRUE(sendAll(idle.get(), getRequest("/echo")));
  ASSERT_EQ(readResponses(idle.get(), 1).size(), 1u);  // now idle between requests
  Fd slow = connectTcp(d.listener("web"));
  ASSERT_TRUE(sendAll(slow.get(), getRequest("/echo?delay=500ms")));
  ASSERT_TRUE(waitForWebRequests(d.admin(), 2));
  const auto start = Clock::now();
  d.signal(SIGTERM);
  EXPECT_EQ(waitForClose(idle.get()), PeerClose::kEof) << "the idle connection closes at once";
  ReadToClose rest = readUntilClose(slow.get());
  EXPECT_EQ(rest.how, PeerClose::kEof);
  auto responses = parseResponses(rest.data);
  ASSERT_EQ(responses.size(), 1u) << rest.data;
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_EQ(d.waitExit(10s), ExitStatus::exited(0));
  EXPECT_LT(Clock::now() - start, 10s) << "the drain did not wait for the clients";
}

}  // namespace
}  // namespace portd::itest
