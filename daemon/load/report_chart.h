#pragma once

#include <string>

#include "load/results.h"

namespace portd::load {

// `portd load report --svg`: one SVG document with two charts, the latency percentile
// spectrum (x: percentile on HdrHistogram's log scale of 1/(1-p), from 0% to 99.9999%; y:
// milliseconds; corrected and uncorrected latency) and the answers and errors per second over
// the run. Elements carry ids and classes (#spectrum, #throughput, .corrected, .uncorrected,
// .answers, .errors) so that a page test can find them.
std::string renderSvg(const Result& r);

// `--html`: one self-contained page (no script, no external resource) with the summary and
// the charts.
std::string renderHtml(const Result& r);

}  // namespace portd::load
