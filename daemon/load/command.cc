#include "load/command.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "config/duration.h"
#include "load/codec.h"
#include "load/dns_codec.h"
#include "load/report_chart.h"
#include "load/report_text.h"
#include "load/resp_codec.h"
#include "load/result_json.h"
#include "load/runner.h"

namespace portd::load {

namespace {

constexpr int kExitUsage = 2;
constexpr size_t kMaxResultFile = 64 << 20;

int usage(const std::string& message) {
  std::fprintf(stderr, "portd load: %s\n", message.c_str());
  return kExitUsage;
}

bool seconds(const std::string& text, const char* what, double* out, std::string* error) {
  std::string why;
  auto d = config::parseDuration(text, &why);
  if (!d || d->count() <= 0) {
    *error = std::string(what) + " \"" + text + "\": " + (d ? "must be positive" : why);
    return false;
  }
  *out = static_cast<double>(d->count()) / 1000.0;
  return true;
}

bool writeOutput(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return true;
  }
  std::ofstream f(path, std::ios::out | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

// Reads a regular file of at most kMaxResultFile bytes.
bool readFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream f(path, std::ios::in | std::ios::binary);
  if (!f) {
    *error = "cannot read \"" + path + "\"";
    return false;
  }
  std::string text;
  char buf[65536];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    text.append(buf, static_cast<size_t>(f.gcount()));
    if (text.size() > kMaxResultFile) {
      *error = "\"" + path + "\" is larger than 64 MiB: not a result file";
      return false;
    }
  }
  if (f.bad()) {
    *error = "cannot read \"" + path + "\"";
    return false;
  }
  *out = std::move(text);
  return true;
}

std::optional<Result> readResult(const std::string& path, std::string* error) {
  std::string text;
  if (!readFile(path, &text, error)) {
    return std::nullopt;
  }
  auto r = fromJson(text, error);
  if (!r) {
    *error = "\"" + path + "\": " + *error;
  }
  return r;
}

int report(const Result& r, const std::string& json_path, const std::string& error_prefix,
           bool summary = true) {
  if (summary) {
    std::fputs(formatSummary(r).c_str(), json_path == "-" ? stderr : stdout);
  }
  if (!json_path.empty() && !writeOutput(json_path, toJson(r))) {
    std::fprintf(stderr, "%scannot write \"%s\"\n", error_prefix.c_str(), json_path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int runLoadCommand(const LoadCommand& cmd) {
  LoadOptions o;
  std::string error;
  if (!parseTarget(cmd.url, &o.target, &error)) {
    return usage(error);
  }
  if (!cmd.rate.empty() && !cmd.stages.empty()) {
    return usage("--rate and --stages exclude each other (a stage has its own rate)");
  }
  double duration = 0;
  if (!seconds(cmd.duration, "--duration", &duration, &error) ||
      !seconds(cmd.timeout, "--timeout", &o.timeout_s, &error)) {
    return usage(error);
  }
  if (!cmd.rate.empty()) {
    if (!parseStages(cmd.duration + "@" + cmd.rate, &o.stages, &error)) {
      return usage("--rate \"" + cmd.rate + "\": a number of requests per second, e.g. 1000");
    }
    if (o.stages.front().from_rate <= 0) {
      return usage("--rate must be above 0");
    }
  } else if (!cmd.stages.empty()) {
    if (!parseStages(cmd.stages, &o.stages, &error)) {
      return usage("--stages: " + error);
    }
  }
  if (cmd.requests > 0 && o.open()) {
    return usage("--requests is for the closed model (the open model's count is rate x time)");
  }
  o.duration_s = duration;
  o.requests = cmd.requests;
  if (cmd.connections < 0 || cmd.connections > 100000) {
    return usage("--connections must be from 1 to 100000");
  }
  if (cmd.pipeline < 1 || cmd.pipeline > 1024) {
    return usage("--pipeline must be from 1 to 1024");
  }
  if (cmd.threads < 1 || cmd.threads > 256) {
    return usage("--threads must be from 1 to 256");
  }
  o.connections = cmd.connections;
  const bool stream = o.target.scheme == Scheme::kStream || o.target.scheme == Scheme::kStreamTcp;
  if (stream && o.connections == 0) {
    // Each socket or connection is a stream of its own for portd's stream handler (a sink
    // accounts each, a source sends each its bitrate): one per thread unless asked.
    o.connections = cmd.threads;
  }
  o.pipeline = cmd.pipeline;
  o.threads = cmd.threads;
  if (cmd.batch && o.open()) {
    return usage("--batch is for the closed model (the open model sends on its schedule)");
  }
  o.batch = cmd.batch;
  o.busy_poll = cmd.busy_poll;
  if (o.connections > 0 && o.connections < o.threads) {
    return usage("--connections must be at least --threads (each thread needs one)");
  }
  o.method = cmd.method;
  for (char ch : o.method) {
    if (!std::isupper(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') {
      return usage("--method \"" + cmd.method + "\": an HTTP method is upper-case letters");
    }
  }
  for (const std::string& h : cmd.headers) {
    const size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0 || h.find_first_of("\r\n") != std::string::npos) {
      return usage("--header \"" + h + "\": expected \"Name: value\" on one line");
    }
  }
  o.headers = cmd.headers;
  o.body = cmd.body;
  o.churn = cmd.churn;
  if (o.churn > 0 && o.pipeline > 1 && o.churn < static_cast<uint64_t>(o.pipeline)) {
    return usage("--churn must be at least --pipeline");
  }
  // Message size: tcp/udp 64 bytes, resp values 3 bytes (redis-benchmark's -d), smtp 1 KiB.
  const Scheme scheme = o.target.scheme;
  std::string size_text = cmd.size;
  if (size_text.empty()) {
    size_text = scheme == Scheme::kResp ? "3" : scheme == Scheme::kSmtp ? "1KiB" : "64";
  }
  const uint64_t max_size = scheme == Scheme::kStreamTcp ? 65536
                            : isDatagram(scheme)         ? 65507
                                                         : 16 << 20;
  std::string why;
  auto size = config::parseSize(size_text, &why);
  if (!size || *size == 0 || *size > max_size) {
    return usage("--size \"" + size_text +
                 "\": " + (size ? "from 1 byte to " + std::to_string(max_size) : why));
  }
  o.message_size = static_cast<size_t>(*size);
  if (stream && o.message_size < 24) {
    return usage("--size \"" + size_text + "\": a stream message is at least its 24-byte header");
  }
  if (cmd.subscribe) {
    if (!stream) {
      return usage("--subscribe is for stream:// and stream+tcp:// targets");
    }
    if (o.open() || cmd.requests > 0 || cmd.pipeline != 1 || cmd.batch || !cmd.size.empty()) {
      return usage(
          "--subscribe receives what the source sends, for --duration: --rate, --stages, "
          "--requests, --pipeline, --batch and --size are not for it (the source's "
          "bitrate and packet_size are)");
    }
  }
  o.subscribe = cmd.subscribe;
  if (!cmd.format.empty() && cmd.format != "portd" && cmd.format != "sockperf") {
    return usage("--format \"" + cmd.format + "\": expected portd or sockperf");
  }
  o.sockperf = cmd.format == "sockperf";
  if (o.sockperf && scheme != Scheme::kTcp && scheme != Scheme::kUdp) {
    return usage("--format sockperf is for tcp:// and udp:// targets");
  }
  if (o.sockperf && o.message_size < 14) {
    return usage("--size \"" + size_text + "\": sockperf's messages are at least 14 bytes");
  }
  if (scheme != Scheme::kHttp &&
      (!cmd.body.empty() || !cmd.headers.empty() || cmd.method != "GET")) {
    return usage("--method, --header and --body are for http:// targets");
  }
  if (cmd.churn > 0 && scheme != Scheme::kHttp && scheme != Scheme::kResp &&
      scheme != Scheme::kSmtp) {
    return usage("--churn is for http://, resp:// and smtp:// targets");
  }
  if ((!cmd.mix.empty() || cmd.keys != 10000) && scheme != Scheme::kResp) {
    return usage("--mix and --keys are for resp:// targets");
  }
  if (cmd.keys == 0) {
    return usage("--keys must be at least 1");
  }
  if (scheme == Scheme::kResp) {
    RespMix mix;
    if (!parseRespMix(cmd.mix, &mix, &why)) {
      return usage("--mix: " + why);
    }
  }
  o.mix = cmd.mix;
  o.keys = cmd.keys;
  if ((!cmd.queries.empty() || !cmd.queries_file.empty() || cmd.edns) && scheme != Scheme::kDns) {
    return usage("--query, --queries and --edns are for dns:// targets");
  }
  if (scheme == Scheme::kDns && !cmd.size.empty()) {
    return usage("--size is not for dns:// targets (a query is as long as its name)");
  }
  // Each query is checked here, so that a bad one is refused naming it (and its line in a
  // file) before anything is sent.
  DnsQuestion question;
  for (const std::string& q : cmd.queries) {
    if (!parseDnsQuestion(q, &question, &error)) {
      return usage("--query \"" + q + "\": " + error);
    }
  }
  o.queries = cmd.queries;
  o.dns_edns = cmd.edns;
  if (!cmd.queries_file.empty()) {
    std::string text;
    if (!readFile(cmd.queries_file, &text, &error)) {
      return usage("--queries: " + error);
    }
    size_t start = 0;
    for (size_t line_number = 1; start < text.size(); ++line_number) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) {
        end = text.size();
      }
      std::string line = text.substr(start, end - start);
      start = end + 1;
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (line.find_first_not_of(" \t") == std::string::npos || line.front() == '#' ||
          line.front() == ';') {
        continue;
      }
      if (!parseDnsQuestion(line, &question, &error)) {
        return usage("--queries " + cmd.queries_file + " line " + std::to_string(line_number) +
                     " \"" + line + "\": " + error);
      }
      o.queries.push_back(std::move(line));
    }
  }
  if (scheme == Scheme::kDns && o.queries.empty()) {
    return usage(
        "dns:// needs the queries to send: --query \"NAME TYPE\" (repeatable, e.g. "
        "--query \"www.example.com A\") or --queries FILE (one a line)");
  }
  if (isDatagram(scheme) ? makeDatagramCodec(o) == nullptr : makeCodec(o) == nullptr) {
    return usage(std::string(schemeName(scheme)) + ":// targets are not supported yet");
  }

  RunOutput output;
  output.log_path = cmd.log_path;
  output.progress = !cmd.quiet;
  Result r;
  if (!runLoad(o, output, &r, &error)) {
    return usage(error);
  }
  return report(r, cmd.json_path, "portd load: ", !cmd.no_summary);
}

int runReportCommand(const std::string& file, const std::string& svg_path,
                     const std::string& html_path) {
  std::string error;
  auto r = readResult(file, &error);
  if (!r) {
    return usage("report: " + error);
  }
  std::fputs(formatSummary(*r).c_str(), stdout);
  if (!svg_path.empty() && !writeOutput(svg_path, renderSvg(*r))) {
    std::fprintf(stderr, "portd load report: cannot write \"%s\"\n", svg_path.c_str());
    return 1;
  }
  if (!html_path.empty() && !writeOutput(html_path, renderHtml(*r))) {
    std::fprintf(stderr, "portd load report: cannot write \"%s\"\n", html_path.c_str());
    return 1;
  }
  return 0;
}

int runMergeCommand(const std::vector<std::string>& files, const std::string& json_path,
                    bool summary) {
  if (files.empty()) {
    return usage("merge: no result files");
  }
  std::optional<Result> merged;
  for (const std::string& path : files) {
    std::string error;
    auto r = readResult(path, &error);
    if (!r) {
      return usage("merge: " + error);
    }
    if (!merged) {
      merged = std::move(r);
    } else {
      mergeResult(*merged, *r);
    }
  }
  return report(*merged, json_path, "portd load merge: ", summary);
}

}  // namespace portd::load
