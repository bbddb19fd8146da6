#include "config/options.h"

namespace portd::config {

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
    case OptionType::kStringList:
      return "array of strings";
    case OptionType::kPath:
      return "file path";
    case OptionType::kTableList:
      return "array of tables";
  }
  return "?";
}

}  // namespace portd::config
