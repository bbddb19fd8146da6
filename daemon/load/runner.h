#pragma once

#include <cstdio>
#include <string>

#include "load/options.h"
#include "load/results.h"

namespace portd::load {

// Where a run's output goes besides its summary.
struct RunOutput {
  std::string log_path;  // HdrHistogram interval log of corrected latencies, one line a second
  bool progress = true;  // a progress line on stderr (only when it is a terminal)
};

// Runs `options` to its end, or until SIGINT/SIGTERM (the run then ends early and still
// reports). Returns false with `error` set when it cannot start (e.g. the log cannot be
// written); failures of the target are counted in the result, never an error here.
bool runLoad(const LoadOptions& options, const RunOutput& output, Result* result,
             std::string* error);

}  // namespace portd::load
