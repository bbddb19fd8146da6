#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config/config.h"
#include "handlers/registry.h"

namespace portd::config {

// A configuration error, already formatted as "FILE:LINE:COLUMN: KEY: what is wrong".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string source, int line, int column, std::string key, const std::string& what);
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& key() const { return key_; }

 private:
  int line_;
  int column_;
  std::string key_;
};

// Parses and validates a configuration. Strict: unknown keys, wrong types, bad addresses,
// duplicate listener names, unknown handlers and handlers that do not speak the listener's
// protocol are all errors. Throws ConfigError; binds nothing.
std::shared_ptr<const Config> loadConfig(std::string_view text, const std::string& source,
                                         const handlers::Registry& registry);
std::shared_ptr<const Config> loadConfigFile(const std::string& path,
                                             const handlers::Registry& registry);

// Parses one option value written as in a configuration file ("42", "\"250ms\"", "[7, 13]"):
// how the C interface gives option defaults. Throws ConfigError.
handlers::OptionValue parseOptionValue(handlers::OptionType type, std::string_view text);

// The configuration used when no file is given (the same settings as config/portd.toml).
std::string_view defaultConfigText();
inline constexpr const char* kDefaultConfigSource = "(embedded default)";

}  // namespace portd::config
