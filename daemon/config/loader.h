#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/error.h"

namespace portd::config {

// Parses a configuration document. Strict: unknown keys, wrong types, bad addresses and
// duplicate listener names or addresses are errors. No side effects: plugins are not loaded
// and handlers are not looked up (see handlers::bind for that), so a Config straight from
// here has listeners whose `options` and `handler_config` are still empty. Throws ConfigError.
std::shared_ptr<Config> loadConfig(std::string_view text, const std::string& source);
// Reads the file first: only a regular file, of at most kMaxConfigFileSize bytes.
std::shared_ptr<Config> loadConfigFile(const std::string& path);

inline constexpr uint64_t kMaxConfigFileSize = 16 << 20;

// The configuration used when no file is given (the same settings as config/portd.toml).
std::string_view defaultConfigText();
inline constexpr const char* kDefaultConfigSource = "(embedded default)";

}  // namespace portd::config
