#pragma once

#include <string>
#include <vector>

#include "admin/totals.h"

namespace portd::admin {

// The metric families of handlers' labelled series, in the text exposition format: for each
// label name L that a listener's handler declared, portd_handler_L_events_total (its
// counters) and portd_handler_L_value (its gauges), each sample with the listener's labels
// (`labels[i]` for `totals[i]`), name="..." and L="value". A family appears once, whatever
// the number of listeners that have it.
std::string renderSeries(const std::vector<std::string>& labels, const std::vector<Totals>& totals);

}  // namespace portd::admin
