#pragma once

#include <chrono>
#include <string>

namespace portd::probe {

// `portd probe URL`: a health check for images that carry no shell and no curl (a container's
// HEALTHCHECK, a Kubernetes exec probe). One HTTP/1.1 GET with "Connection: close" to a
// literal address, http:// only. Returns 0 for a 2xx status, 1 for any other status or a
// failure (refused, timed out, not HTTP), and writes one line saying which to `report`.
int run(const std::string& url, std::chrono::milliseconds timeout, std::string* report);

}  // namespace portd::probe
