#pragma once

#include <string>

#include "load/results.h"

namespace portd::load {

// The human summary of a run: rate achieved against asked, errors by kind, statuses,
// percentiles (corrected and uncorrected), connect and first-byte times, the generator's own
// lag, and the percentile spectrum of the corrected latencies.
std::string formatSummary(const Result& r);

}  // namespace portd::load
