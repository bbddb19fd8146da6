#include "handlers/options.h"

#include <fmt/format.h>

namespace portd::handlers {

const char* optionTypeName(OptionType type) {
  switch (type) {
    case OptionType::kBool:
      return "boolean";
    case OptionType::kInteger:
      return "integer";
    case OptionType::kString:
      return "string";
    case OptionType::kDuration:
      return "duration";
    case OptionType::kSize:
      return "size";
    case OptionType::kIntegerList:
      return "array of integers";
  }
  return "?";
}

std::string formatOptionValue(const OptionValue& value) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(const std::string& s) const { return "\"" + s + "\""; }
    std::string operator()(config::Duration d) const {
      return "\"" + config::formatDuration(d) + "\"";
    }
    std::string operator()(ByteSize s) const { return std::to_string(s.bytes); }
    std::string operator()(const std::vector<int64_t>& v) const {
      return fmt::format("[{}]", fmt::join(v, ", "));
    }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace portd::handlers
