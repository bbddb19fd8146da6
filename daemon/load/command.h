#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace portd::load {

// `portd load`'s command line, as given (main.cc declares it with CLI11); checked and turned
// into LoadOptions by runLoadCommand().
struct LoadCommand {
  std::string url;
  std::string rate;  // "1000" or "1000/s": open model, with `duration`
  std::string duration = "10s";
  std::string stages;  // open model: "10s@1000,30s@1000-5000"
  int connections = 0;
  int pipeline = 1;
  bool batch = false;  // closed model: refill a connection's pipeline only once it is drained
  bool busy_poll = false;
  int threads = 1;
  uint64_t requests = 0;
  std::string timeout = "10s";
  std::string method = "GET";
  std::vector<std::string> headers;
  std::string body;
  uint64_t churn = 0;
  std::string format;  // tcp/udp: "portd" (the default) or "sockperf"
  std::string size;    // empty: the scheme's default (tcp/udp 64, resp 3, smtp 1KiB)
  std::string mix;     // resp
  uint64_t keys = 10000;
  std::vector<std::string> queries;  // dns: "NAME TYPE"
  std::string queries_file;          // dns: one query a line
  bool edns = false;                 // dns: an EDNS0 OPT record in each query
  bool subscribe = false;            // stream: receive a source's stream
  std::string json_path;             // "-": stdout (the summary then goes to stderr)
  std::string log_path;
  bool quiet = false;
  bool no_summary = false;  // only the JSON (e.g. `--json -` in a container's log)
};

// Each returns the process's exit status: 0, or 2 with a message on stderr for bad input.
int runLoadCommand(const LoadCommand& command);
// `portd load report FILE [--svg OUT] [--html OUT]`: the summary, and the charts.
int runReportCommand(const std::string& file, const std::string& svg_path,
                     const std::string& html_path);
int runMergeCommand(const std::vector<std::string>& files, const std::string& json_path,
                    bool summary = true);

}  // namespace portd::load
