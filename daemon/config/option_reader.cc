#include "config/option_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "config/toml_reader.h"

namespace portd::config {

namespace {

class OptionReader {
 public:
  explicit OptionReader(const std::string& source) : toml_(source) {}

  std::map<std::string, OptionValue> read(const toml::table& t, const std::string& path,
                                          const std::vector<OptionSpec>& schema,
                                          const std::string& what) const {
    std::map<std::string, OptionValue> values;
    for (const OptionSpec& spec : schema) {
      values[spec.name] = spec.default_value;
    }
    for (auto&& [key, node] : t) {
      std::string k(key.str());
      std::string full = TomlReader::join(path, k);
      auto spec = std::find_if(schema.begin(), schema.end(),
                               [&](const OptionSpec& s) { return s.name == k; });
      if (spec == schema.end()) {
        std::string known;
        for (const OptionSpec& s : schema) {
          known += known.empty() ? s.name : ", " + s.name;
        }
        toml_.fail(key.source(), full,
                   fmt::format("unknown {} ({})", what,
                               known.empty() ? "it takes no options" : "it takes: " + known));
      }
      values[k] = value(node, full, *spec);
    }
    return values;
  }

  OptionValue value(const toml::node& n, const std::string& key, const OptionSpec& spec) const {
    switch (spec.type) {
      case OptionType::kBool:
        return toml_.boolean(n, key);
      case OptionType::kInteger:
        return toml_.integer(n, key, INT64_MIN, INT64_MAX);
      case OptionType::kString:
        return toml_.str(n, key);
      case OptionType::kDuration:
        return toml_.duration(n, key);
      case OptionType::kSize:
        return ByteSize{toml_.size(n, key)};
      case OptionType::kIntegerList: {
        const toml::array* arr = n.as_array();
        if (arr == nullptr) {
          toml_.fail(n.source(), key,
                     fmt::format("expected an array of integers, got {}", TomlReader::typeName(n)));
        }
        std::vector<int64_t> out;
        for (const toml::node& item : *arr) {
          out.push_back(toml_.integer(item, key, INT64_MIN, INT64_MAX));
        }
        return out;
      }
      case OptionType::kStringList: {
        const toml::array* arr = n.as_array();
        if (arr == nullptr) {
          toml_.fail(n.source(), key,
                     fmt::format("expected an array of strings, got {}", TomlReader::typeName(n)));
        }
        std::vector<std::string> out;
        for (size_t i = 0; i < arr->size(); ++i) {
          out.push_back(toml_.str(*arr->get(i), fmt::format("{}[{}]", key, i)));
        }
        return out;
      }
      case OptionType::kPath: {
        std::string value = toml_.str(n, key);
        if (value.empty()) {
          toml_.fail(n.source(), key, "must not be empty");
        }
        // open() would see the name end at a NUL, and read another file than the one written.
        if (value.find('\0') != std::string::npos) {
          toml_.fail(n.source(), key, "must not hold a NUL character");
        }
        return toml_.resolvePath(value);
      }
      case OptionType::kTableList:
        return tableList(n, key, spec);
    }
    toml_.fail(n.source(), key, "unsupported option type");
  }

 private:
  std::vector<Options> tableList(const toml::node& n, const std::string& key,
                                 const OptionSpec& spec) const {
    const toml::array* arr = n.as_array();
    if (arr == nullptr || (!arr->empty() && !arr->is_array_of_tables())) {
      // The table header to write is the key without its indices.
      std::string header;
      for (size_t i = 0; i < key.size(); ++i) {
        if (key[i] == '[') {
          i = std::min(key.find(']', i), key.size());
        } else {
          header += key[i];
        }
      }
      toml_.fail(n.source(), key,
                 fmt::format("expected an array of tables (write each as [[{}]]), got {}", header,
                             TomlReader::typeName(n)));
    }
    std::vector<Options> out;
    std::string what = fmt::format("key in {}", key.substr(key.rfind('.') + 1));
    for (size_t i = 0; i < arr->size(); ++i) {
      out.emplace_back(
          read(*arr->get(i)->as_table(), fmt::format("{}[{}]", key, i), spec.fields, what));
    }
    return out;
  }

  TomlReader toml_;
};

// The node an OptionError's key names, or the nearest enclosing one that exists.
const toml::node* findOption(const toml::table& opts, std::string_view key) {
  while (!key.empty()) {
    if (const toml::node* n = opts.at_path(key).node()) {
      return n;
    }
    size_t cut = key.find_last_of(".[");
    key = key.substr(0, cut == std::string_view::npos ? 0 : cut);
  }
  return nullptr;
}

}  // namespace

Options readOptions(const std::string& source, const RawOptions* raw, Place fallback,
                    const std::string& path, const std::vector<OptionSpec>& schema,
                    const std::string& what) {
  static const toml::table kEmpty;
  (void)fallback;  // an empty table has no keys to be wrong about
  return Options(OptionReader(source).read(raw ? *raw->table : kEmpty, path, schema, what));
}

ConfigError optionError(const std::string& source, const RawOptions* raw, Place fallback,
                        const std::string& path, const OptionError& error) {
  const toml::node* at = raw ? findOption(*raw->table, error.key()) : nullptr;
  Place where = at ? TomlReader::place(at->source()) : (raw ? raw->place : fallback);
  std::string key = error.key().empty() ? path : TomlReader::join(path, error.key());
  return ConfigError(source, where.line, where.column, key, error.what());
}

OptionValue parseOptionValue(OptionType type, std::string_view text) {
  // A path's default is "" (no file): only a configuration file names one.
  if (type == OptionType::kPath && text == "\"\"") {
    return std::string();
  }
  constexpr std::string_view kSource = "(option default)";
  std::string doc = "value = " + std::string(text);
  toml::table root;
  try {
    root = toml::parse(std::string_view(doc), kSource);
  } catch (const toml::parse_error& e) {
    throw ConfigError(std::string(kSource), 1, 1, "", std::string(e.description()));
  }
  return OptionReader(std::string(kSource))
      .value(*root.get("value"), "value", OptionSpec{"value", type, {}, "", {}});
}

}  // namespace portd::config
