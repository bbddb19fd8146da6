// portd: parses the command line and starts things; the work happens in server/ (and the
// layers below it, see docs/architecture.md).

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "config/loader.h"
#include "handlers/builtin/builtin.h"
#include "load/command.h"
#include "probe/probe.h"
#include "server/configuration.h"
#include "server/log.h"
#include "server/supervisor.h"
#include "version.h"

namespace {

using namespace portd;

constexpr int kExitConfig = 2;

void raiseFileLimit() {
  // Each connection is a descriptor; the usual soft limit of 1024 is far below what the
  // default max_connections allows. The hard limit is what the operator granted.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int serve(const std::string& path, int workers, const std::string& level,
          const handlers::Registry& registry) {
  // The configuration with the command line's overrides, which a reload keeps applying.
  server::Overrides overrides{workers, level};
  auto read = [path, overrides, &registry] {
    return server::loadConfiguration(path, overrides, registry).config;
  };
  auto cfg = read();
  server::setupLogging(cfg->log);
  spdlog::info("portd {} starting with {}", PORTD_VERSION, cfg->source);
  raiseFileLimit();
  return server::runServer(std::move(cfg), read);
}

int check(const std::string& path, const handlers::Registry& registry) {
  auto cfg = server::loadConfiguration(path, {}, registry).config;
  fmt::print("portd: configuration {} is valid\n", cfg->source);
  fmt::print(
      "server: workers {} ({}), shutdown_timeout {}\n", cfg->server.workers,
      cfg->server.workers ? "fixed" : fmt::format("auto: {} here", server::defaultWorkerCount()),
      config::formatDuration(cfg->server.shutdown_timeout));
  fmt::print("listeners:\n");
  for (const config::ListenerConfig& l : cfg->listeners) {
    fmt::print("  {:<16} {} {:<24} {}", l.name, config::transportName(l.protocol),
               l.address.toString(), l.handler);
    if (l.protocol == net::Transport::kTcp) {
      fmt::print("  max_connections={} idle_timeout={} write_buffer_limit={}", l.max_connections,
                 config::formatDuration(l.idle_timeout), l.write_buffer_limit);
    }
    for (const auto& [name, value] : l.options->values()) {
      fmt::print(" {}={}", name, config::formatOptionValue(value));
    }
    fmt::print("{}\n", l.address.isLoopback() ? "" : "  (reachable from other hosts)");
  }
  return 0;
}

// The built-in handlers, or with -c those a configuration can use: its plugins' too.
int listHandlers(const std::string& path, const handlers::Registry& builtins) {
  // Listing handlers needs only the plugins: a file with no listener (yet) is fine here.
  server::Loaded loaded;
  const handlers::Registry* registry = &builtins;
  if (!path.empty()) {
    loaded = server::loadConfiguration(path, {}, builtins, /*bind=*/false);
    registry = loaded.registry.get();
    for (const plugin::PluginInfo& p : loaded.plugins) {
      fmt::print("plugin {} {} ({}): {}\n", p.name, p.version, p.path, fmt::join(p.handlers, ", "));
    }
  }
  for (const handlers::HandlerFactory* f : registry->all()) {
    const handlers::HandlerDescriptor& d = f->descriptor();
    fmt::print("{:<10} {:<9} {}\n", d.name, handlers::protocolsToString(d.protocols),
               d.description);
    for (const config::OptionSpec& o : d.options) {
      fmt::print("    {} ({}, default {}): {}\n", o.name, config::optionTypeName(o.type),
                 config::formatOptionValue(o.default_value), o.help);
      for (const config::OptionSpec& f : o.fields) {
        fmt::print("        {} ({}, default {}): {}\n", f.name, config::optionTypeName(f.type),
                   config::formatOptionValue(f.default_value), f.help);
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  handlers::Registry registry;
  handlers::registerBuiltins(registry);

  CLI::App app{"portd: an event-loop TCP/UDP server daemon"};
  app.set_version_flag("--version", std::string("portd ") + PORTD_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  int workers = -1;
  std::string level;
  auto* serve_cmd = app.add_subcommand("serve", "Run the daemon in the foreground");
  // PORTD_CONFIG is how a container image names its file while letting `-c` or another
  // PORTD_CONFIG (podman run -e) replace it.
  serve_cmd
      ->add_option("-c,--config", config_path,
                   "Configuration file (default: $PORTD_CONFIG, else the embedded "
                   "configuration)")
      ->envname("PORTD_CONFIG");
  serve_cmd->add_option("--workers", workers, "Worker threads (0 = one per CPU)")
      ->check(CLI::Range(0, 1024));
  serve_cmd->add_option("--log-level", level, "Log level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

  auto* check_cmd = app.add_subcommand("check", "Validate a configuration and summarise it");
  check_cmd
      ->add_option("-c,--config", config_path,
                   "Configuration file (default: $PORTD_CONFIG, else the embedded "
                   "configuration)")
      ->envname("PORTD_CONFIG");

  auto* handlers_cmd = app.add_subcommand("handlers", "List the handlers and their options");
  handlers_cmd->add_option("-c,--config", config_path,
                           "Also list the handlers of this configuration's plugins");

  std::string probe_url;
  int probe_timeout_ms = 2000;
  auto* probe_cmd = app.add_subcommand(
      "probe", "GET an http:// URL; exit 0 on a 2xx status, 1 otherwise (for health checks)");
  probe_cmd->add_option("url", probe_url, "For example http://127.0.0.1:9090/healthz")->required();
  probe_cmd->add_option("--timeout-ms", probe_timeout_ms, "Give up after this long")
      ->check(CLI::Range(1, 600000));

  load::LoadCommand load_cmd_line;
  std::vector<std::string> merge_files;
  std::string merge_json;
  auto* load_cmd = app.add_subcommand(
      "load",
      "Generate load against a URL (http, tcp, udp, resp, dns, smtp, stream) and report its "
      "latency");
  load_cmd->add_option("url", load_cmd_line.url,
                       "Target, e.g. http://127.0.0.1:8080/, tcp://127.0.0.1:7000");
  load_cmd->add_option("--rate", load_cmd_line.rate,
                       "Open model: requests per second on a fixed schedule, for --duration");
  load_cmd->add_option("--stages", load_cmd_line.stages,
                       "Open model in stages: \"10s@1000,30s@1000-5000,60s@5000\"");
  load_cmd->add_option("-d,--duration", load_cmd_line.duration, "How long (default 10s)");
  load_cmd->add_option("-c,--connections", load_cmd_line.connections,
                       "Connections (UDP: sockets); default 10");
  load_cmd->add_option("-p,--pipeline", load_cmd_line.pipeline,
                       "Requests outstanding per connection (default 1)");
  load_cmd->add_option("-t,--threads", load_cmd_line.threads, "Generator threads (default 1)");
  load_cmd->add_option("-n,--requests", load_cmd_line.requests,
                       "Closed model: stop after this many requests");
  load_cmd->add_option("--timeout", load_cmd_line.timeout, "Per request and connect (default 10s)");
  load_cmd->add_option("-m,--method", load_cmd_line.method, "http: method (default GET)");
  load_cmd->add_option("-H,--header", load_cmd_line.headers, "http: a header \"Name: value\"");
  load_cmd->add_option("--body", load_cmd_line.body, "http: request body");
  load_cmd->add_option("--churn", load_cmd_line.churn,
                       "http, resp, smtp: a new connection every N requests (smtp: QUIT first)");
  load_cmd->add_option("--size", load_cmd_line.size,
                       "Message size: tcp/udp/stream (default 64; udp at least 32, stream 24), "
                       "resp value "
                       "(default 3), smtp message (default 1KiB)");
  load_cmd->add_flag("--batch", load_cmd_line.batch,
                     "Closed model: send a connection's -p requests together once all the "
                     "previous ones are answered (redis-benchmark's -P), not one per answer");
  load_cmd->add_flag("--busy-poll", load_cmd_line.busy_poll,
                     "Poll without sleeping: each thread keeps a CPU busy, and a target on the "
                     "same host is spared waking it for every answer");
  load_cmd->add_option("--format", load_cmd_line.format,
                       "tcp/udp: portd (default) or sockperf, to load `sockperf server`");
  load_cmd->add_option("--mix", load_cmd_line.mix,
                       "resp: command mix of get, set, ping, incr, del, e.g. "
                       "\"get=8,set=1,ping=1\" (default \"get=1,set=1\")");
  load_cmd->add_option("--keys", load_cmd_line.keys, "resp: key space (default 10000)");
  load_cmd->add_option("--query", load_cmd_line.queries, "dns: a query \"NAME TYPE\" (repeatable)");
  load_cmd->add_option("--queries", load_cmd_line.queries_file,
                       "dns: a file of queries, one \"NAME TYPE\" a line");
  load_cmd->add_flag("--edns", load_cmd_line.edns,
                     "dns: an EDNS0 OPT record in each query (UDP payload 1232)");
  load_cmd->add_flag("--subscribe", load_cmd_line.subscribe,
                     "stream: receive a source's stream for --duration (UDP: subscribe, answer "
                     "the challenge) instead of sending to a sink");
  load_cmd->add_option("--json", load_cmd_line.json_path,
                       "Write the result as JSON to this file (- for stdout)");
  load_cmd->add_option("--log", load_cmd_line.log_path,
                       "Write an HdrHistogram interval log of corrected latencies");
  load_cmd->add_flag("-q,--quiet", load_cmd_line.quiet, "No progress line");
  load_cmd->add_flag("--no-summary", load_cmd_line.no_summary,
                     "No summary (with --json -: only the JSON, e.g. for a container's log)");
  auto* merge_cmd =
      load_cmd->add_subcommand("merge", "Merge result files (--json) into one report");
  merge_cmd->add_option("files", merge_files, "Result files")->required();
  merge_cmd->add_option("--json", merge_json, "Write the merged result as JSON (- for stdout)");
  bool merge_no_summary = false;
  merge_cmd->add_flag("--no-summary", merge_no_summary, "No summary");

  std::string report_file;
  std::string report_svg;
  std::string report_html;
  auto* report_cmd =
      load_cmd->add_subcommand("report", "Summarise a result file (--json) and draw its charts");
  report_cmd->add_option("file", report_file, "Result file")->required();
  report_cmd->add_option("--svg", report_svg, "Write the charts as SVG");
  report_cmd->add_option("--html", report_html, "Write a self-contained page with the charts");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfig;
  }

  try {
    if (serve_cmd->parsed()) {
      return serve(config_path, workers, level, registry);
    }
    if (check_cmd->parsed()) {
      return check(config_path, registry);
    }
    if (probe_cmd->parsed()) {
      std::string report;
      int rc = probe::run(probe_url, std::chrono::milliseconds(probe_timeout_ms), &report);
      std::fprintf(rc == 0 ? stdout : stderr, "%s\n", report.c_str());
      return rc;
    }
    if (report_cmd->parsed()) {
      return load::runReportCommand(report_file, report_svg, report_html);
    }
    if (merge_cmd->parsed()) {
      return load::runMergeCommand(merge_files, merge_json, !merge_no_summary);
    }
    if (load_cmd->parsed()) {
      if (load_cmd_line.url.empty()) {
        std::fprintf(stderr, "portd load: a URL is required (see portd load --help)\n");
        return kExitConfig;
      }
      return load::runLoadCommand(load_cmd_line);
    }
    if (handlers_cmd->parsed()) {
      return listHandlers(config_path, registry);
    }
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "portd: configuration error: %s\n", e.what());
    return kExitConfig;
  }
  return 0;
}
