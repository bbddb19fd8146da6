#pragma once

#include <portd/handler.h>

namespace portd::handlers::abi {

// The host functions of labelled series (ABI 1.2), for the table in host_api.cc. See
// series_declare in <portd/handler.h>.
int seriesDeclare(portd_worker* w, const char* label, uint32_t max_values,
                  const char* const* counters, size_t counter_count, const char* const* gauges,
                  size_t gauge_count);
int seriesOpen(portd_worker* w, int set, const char* value, size_t len, portd_series_t* out);
void seriesAdd(portd_worker* w, portd_series_t series, int counter, uint64_t delta);
void seriesSet(portd_worker* w, portd_series_t series, int gauge, double value);
int seriesClose(portd_worker* w, portd_series_t series);

// Takes an instance's tables out of its listener's list; when it is destroyed.
void seriesRelease(portd_worker* w);

}  // namespace portd::handlers::abi
