#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "load/results.h"

namespace portd::load {

// A run as JSON: its settings, counters, percentiles in microseconds (for people and scripts)
// and every histogram in HdrHistogram's compressed V2 form (for `portd load merge`, which adds
// them back without loss, and for any HdrHistogram tool), plus the timeline.
std::string toJson(const Result& r);

// Reads what toJson() wrote; nullopt with `error` set for anything else. The input is not
// trusted: sizes and histograms are checked as they are decoded.
std::optional<Result> fromJson(std::string_view text, std::string* error);

// Adds `other` to `into`: counters, histograms and timelines (aligned by start time).
void mergeResult(Result& into, const Result& other);

}  // namespace portd::load
