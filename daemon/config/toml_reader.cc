#include "config/toml_reader.h"

#include <fmt/format.h>

#include <filesystem>

#include "config/loader.h"

namespace portd::config {

const char* TomlReader::typeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    default:
      return "nothing";
  }
}

void TomlReader::fail(const toml::source_region& where, const std::string& key,
                      const std::string& what) const {
  fail(place(where), key, what);
}

void TomlReader::fail(Place where, const std::string& key, const std::string& what) const {
  throw ConfigError(source_, where.line, where.column, key, what);
}

std::string TomlReader::join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

void TomlReader::checkKeys(const toml::table& t, const std::string& path,
                           std::initializer_list<std::string_view> allowed) const {
  for (auto&& [key, value] : t) {
    bool known = false;
    for (std::string_view a : allowed) {
      known = known || key.str() == a;
    }
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) {
        list += list.empty() ? std::string(a) : ", " + std::string(a);
      }
      fail(key.source(), join(path, key.str()), "unknown key (expected one of: " + list + ")");
    }
  }
}

const toml::table& TomlReader::table(const toml::node& n, const std::string& path) const {
  if (!n.is_table()) {
    fail(n.source(), path, fmt::format("expected a table, got {}", typeName(n)));
  }
  return *n.as_table();
}

const toml::node* TomlReader::get(const toml::table& t, const std::string& path,
                                  std::string_view key, bool required) const {
  const toml::node* n = t.get(key);
  if (n == nullptr && required) {
    fail(t.source(), join(path, key), "required key is missing");
  }
  return n;
}

std::string TomlReader::str(const toml::node& n, const std::string& key) const {
  if (!n.is_string()) {
    fail(n.source(), key, fmt::format("expected a string, got {}", typeName(n)));
  }
  return std::string(n.as_string()->get());
}

bool TomlReader::boolean(const toml::node& n, const std::string& key) const {
  if (!n.is_boolean()) {
    fail(n.source(), key, fmt::format("expected a boolean, got {}", typeName(n)));
  }
  return n.as_boolean()->get();
}

int64_t TomlReader::integer(const toml::node& n, const std::string& key, int64_t min,
                            int64_t max) const {
  if (!n.is_integer()) {
    fail(n.source(), key, fmt::format("expected an integer, got {}", typeName(n)));
  }
  int64_t v = n.as_integer()->get();
  if (v < min || v > max) {
    fail(n.source(), key, fmt::format("must be between {} and {}", min, max));
  }
  return v;
}

Duration TomlReader::duration(const toml::node& n, const std::string& key) const {
  std::string error;
  auto d = parseDuration(str(n, key), &error);
  if (!d) {
    fail(n.source(), key, error);
  }
  return *d;
}

uint64_t TomlReader::size(const toml::node& n, const std::string& key) const {
  if (n.is_integer()) {
    return static_cast<uint64_t>(integer(n, key, 0, INT64_MAX));
  }
  if (!n.is_string()) {
    fail(n.source(), key,
         fmt::format("expected a size (an integer or a string such as \"64KiB\"), got {}",
                     typeName(n)));
  }
  std::string error;
  auto s = parseSize(n.as_string()->get(), &error);
  if (!s) {
    fail(n.source(), key, error);
  }
  return *s;
}

std::string TomlReader::resolvePath(const std::string& value) const {
  std::filesystem::path p(value);
  if (value.empty() || p.is_absolute() || source_ == kDefaultConfigSource ||
      source_.find('/') == std::string::npos) {
    return value;
  }
  return (std::filesystem::path(source_).parent_path() / p).string();
}

}  // namespace portd::config
