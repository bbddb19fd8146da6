#pragma once

#include <stdexcept>
#include <string>

namespace portd::config {

// A configuration error, already formatted as "FILE:LINE:COLUMN: KEY: what is wrong". Every
// error a configuration can cause is one of these, whichever layer finds it (the loader, the
// option reader, a plugin that cannot be loaded, a handler refusing a value).
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

}  // namespace portd::config
