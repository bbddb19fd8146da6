// Reading the daemon's /metrics from tests.
#pragma once

#include <string>

#include "net_client.h"

namespace portd::itest {

// GET /metrics over a plain socket: the whole response, head included.
std::string metrics(const Endpoint& admin);

// The value of the sample whose line starts with `series` ("name{labels}"), or -1 when there is
// none (as before the counters existed).
double sample(const std::string& text, const std::string& series);

// GET `path` of the admin endpoint: the body only.
std::string adminBody(const Endpoint& admin, const std::string& path);

// Whether `promtool check metrics` accepts `text` (a /metrics body); its complaints in `why`.
bool promtoolAccepts(const std::string& text, std::string* why);

}  // namespace portd::itest
