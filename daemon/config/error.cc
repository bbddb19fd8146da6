#include "config/error.h"

#include <fmt/format.h>

namespace portd::config {

ConfigError::ConfigError(std::string source, int line, int column, std::string key,
                         const std::string& what)
    : std::runtime_error(key.empty()
                             ? fmt::format("{}:{}:{}: {}", source, line, column, what)
                             : fmt::format("{}:{}:{}: {}: {}", source, line, column, key, what)),
      line_(line),
      column_(column),
      key_(std::move(key)) {}

}  // namespace portd::config
