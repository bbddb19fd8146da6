#pragma once

#include <string>

#include "admin/server_state.h"

namespace portd::admin {

// The figures of the admin endpoint, summed over the workers when asked for: workers keep
// their own counters (core::Counter), so a scrape costs the scraper, never the hot path.

// GET /metrics: Prometheus text exposition format 0.0.4.
std::string renderPrometheus(const admin::ServerState& state);
// GET /stats: the same figures as JSON.
std::string renderStatsJson(const admin::ServerState& state);

}  // namespace portd::admin
