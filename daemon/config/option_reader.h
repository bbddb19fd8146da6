#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/error.h"
#include "config/options.h"

namespace portd::config {

// Reads a listener's options table against a handler's option schema (the declarative table
// a handler gives, like an nginx module's directives): unknown keys and ill-typed values are
// ConfigErrors pointing into the file; options the table leaves out get their defaults.
// `raw` may be null (the listener has no options table); `path` is the key shown in errors
// ("listener[0].options") and `what` names the kind of key in "unknown ..." messages
// (`option for handler "echo"`). `fallback` is where errors go when there is no table.
Options readOptions(const std::string& source, const RawOptions* raw, Place fallback,
                    const std::string& path, const std::vector<OptionSpec>& schema,
                    const std::string& what);

// The ConfigError for an OptionError a handler raised about options read by readOptions():
// at the key it names ("max_size", "route[2].body_file"), or at the nearest enclosing table
// that the file has (a required field that was left out is reported at its table).
ConfigError optionError(const std::string& source, const RawOptions* raw, Place fallback,
                        const std::string& path, const OptionError& error);

// Parses one option value written as in a configuration file ("42", "\"250ms\"", "[7, 13]"):
// how the C interface gives option defaults. Throws ConfigError.
OptionValue parseOptionValue(OptionType type, std::string_view text);

}  // namespace portd::config
