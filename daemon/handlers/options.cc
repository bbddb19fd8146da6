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
    case OptionType::kStringList:
      return "array of strings";
    case OptionType::kPath:
      return "file path";
    case OptionType::kTableList:
      return "array of tables";
  }
  return "?";
}

std::string formatOptionValue(const OptionValue& value) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    // A TOML basic string, escaped so that a value such as a response body stays on one line.
    std::string operator()(const std::string& s) const {
      std::string out = "\"";
      for (char c : s) {
        switch (c) {
          case '"':
            out += "\\\"";
            break;
          case '\\':
            out += "\\\\";
            break;
          case '\n':
            out += "\\n";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\t':
            out += "\\t";
            break;
          default:
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
              out += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
            } else {
              out += c;
            }
        }
      }
      return out + "\"";
    }
    std::string operator()(config::Duration d) const {
      return "\"" + config::formatDuration(d) + "\"";
    }
    std::string operator()(ByteSize s) const { return std::to_string(s.bytes); }
    std::string operator()(const std::vector<int64_t>& v) const {
      return fmt::format("[{}]", fmt::join(v, ", "));
    }
    std::string operator()(const std::vector<std::string>& v) const {
      std::string out = "[";
      for (const std::string& s : v) {
        out += (out.size() > 1 ? ", " : "") + (*this)(s);
      }
      return out + "]";
    }
    std::string operator()(const std::vector<Options>& v) const {
      // An inline TOML array of inline tables: [{path = "/a", status = 200}, ...].
      std::string out = "[";
      for (const Options& table : v) {
        out += out.size() > 1 ? ", {" : "{";
        bool first = true;
        for (const auto& [name, value] : table.values()) {
          out += (first ? "" : ", ") + name + " = " + std::visit(*this, value);
          first = false;
        }
        out += "}";
      }
      return out + "]";
    }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace portd::handlers
