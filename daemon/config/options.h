#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "config/duration.h"

namespace portd::config {

// The types a handler option may have. The schema is declarative (like an nginx module's
// directive table): the configuration loader checks names and types against it, so a handler
// only ever sees well-typed values and never parses TOML itself.
//
// kPath is a string naming a file: a relative path is resolved against the directory of the
// configuration file. kTableList is an array of tables, each checked against the nested schema
// in OptionSpec::fields (written [[listener.options.NAME]] in the file).
enum class OptionType {
  kBool,
  kInteger,
  kString,
  kDuration,
  kSize,
  kIntegerList,
  kStringList,
  kPath,
  kTableList,
};

struct ByteSize {
  uint64_t bytes = 0;
  bool operator==(const ByteSize&) const = default;
};

class Options;

// kString and kPath hold a std::string; kTableList holds one Options per table.
using OptionValue =
    std::variant<bool, int64_t, std::string, config::Duration, ByteSize, std::vector<int64_t>,
                 std::vector<std::string>, std::vector<Options>>;

struct OptionSpec {
  std::string name;
  OptionType type;
  OptionValue default_value;
  std::string help;
  // kTableList only: the schema of each table. Every field gets its default when a table leaves
  // it out, as top-level options do.
  std::vector<OptionSpec> fields{};
};

const char* optionTypeName(OptionType type);
// Renders a value the way it would be written in the configuration file (config/toml_writer.cc,
// the one place that writes TOML).
std::string formatOptionValue(const OptionValue& value);

// A handler rejects a well-typed but unacceptable value (out of range, contradictory) by throwing
// this; the loader turns it into a configuration error pointing at the option in the file. The
// key may reach into a table list, e.g. "route[2].body_file"; when the file does not have that
// key (a required field left out), the error points at the nearest enclosing table.
class OptionError : public std::runtime_error {
 public:
  OptionError(std::string key, const std::string& message)
      : std::runtime_error(message), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

// The validated options of one listener: every option of the schema is present, either as
// written in the file or as its default.
class Options {
 public:
  explicit Options(std::map<std::string, OptionValue> values) : values_(std::move(values)) {}

  bool getBool(const std::string& name) const { return std::get<bool>(at(name)); }
  int64_t getInteger(const std::string& name) const { return std::get<int64_t>(at(name)); }
  const std::string& getString(const std::string& name) const {
    return std::get<std::string>(at(name));
  }
  config::Duration getDuration(const std::string& name) const {
    return std::get<config::Duration>(at(name));
  }
  uint64_t getSize(const std::string& name) const { return std::get<ByteSize>(at(name)).bytes; }
  const std::vector<int64_t>& getIntegerList(const std::string& name) const {
    return std::get<std::vector<int64_t>>(at(name));
  }
  const std::vector<std::string>& getStringList(const std::string& name) const {
    return std::get<std::vector<std::string>>(at(name));
  }
  // Absolute, or relative to the working directory when the configuration came from no file.
  const std::string& getPath(const std::string& name) const {
    return std::get<std::string>(at(name));
  }
  const std::vector<Options>& getTableList(const std::string& name) const {
    return std::get<std::vector<Options>>(at(name));
  }
  const std::map<std::string, OptionValue>& values() const { return values_; }

  // The same values, for a reload to tell an unchanged listener (see config/reload.h).
  bool operator==(const Options&) const = default;

 private:
  const OptionValue& at(const std::string& name) const { return values_.at(name); }
  std::map<std::string, OptionValue> values_;
};

}  // namespace portd::config
