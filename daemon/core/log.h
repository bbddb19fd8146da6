#pragma once

#include <string>

#include "config/config.h"

namespace portd::core {

// Sends spdlog's default logger to stderr (journald and container runtimes collect it there),
// as text or as one JSON object per line.
void setupLogging(const config::LogConfig& log);

}  // namespace portd::core
