#pragma once

#include <string>

#include "config/config.h"

namespace portd::config {

// The configuration as a TOML document, every default filled in, that loads back as the same
// configuration (what the admin endpoint's /config shows). `header` is a comment line put first.
std::string renderConfigToml(const Config& config);

}  // namespace portd::config
