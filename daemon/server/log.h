#pragma once

#include <string>

#include "config/config.h"

namespace portd::server {

// Sends spdlog's default logger to stderr (journald and container runtimes collect it there),
// as text or as one JSON object per line.
// Called once, before any other thread runs.
void setupLogging(const config::LogConfig& log);

// Changes the level and format of the running logger (a reload); safe while other threads log.
void applyLogging(const config::LogConfig& log);

}  // namespace portd::server
