#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/duration.h"
#include "config/error.h"

namespace portd::config {

// A listener's options table as written, kept for handlers::bind() to read against a schema.
struct RawOptions {
  // toml++ drops source positions when a node is copied, so the parsed document is kept whole
  // (shared by every listener of the file) and `table` points into it.
  std::shared_ptr<const toml::table> document;
  const toml::table* table = nullptr;
  Place place;  // of the table
};

// Typed access to a parsed TOML document: each accessor checks the node's type (and range) and
// throws a ConfigError pointing at the node otherwise. Keys are the dotted paths shown in
// errors ("listener[1].idle_timeout").
class TomlReader {
 public:
  explicit TomlReader(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  [[noreturn]] void fail(const toml::source_region& where, const std::string& key,
                         const std::string& what) const;
  [[noreturn]] void fail(Place where, const std::string& key, const std::string& what) const;

  // Every key of `t` must be one of `allowed`.
  void checkKeys(const toml::table& t, const std::string& path,
                 std::initializer_list<std::string_view> allowed) const;
  const toml::table& table(const toml::node& n, const std::string& path) const;
  // The node at `key` in `t`; a missing required key is an error at the table.
  const toml::node* get(const toml::table& t, const std::string& path, std::string_view key,
                        bool required) const;
  std::string str(const toml::node& n, const std::string& key) const;
  bool boolean(const toml::node& n, const std::string& key) const;
  int64_t integer(const toml::node& n, const std::string& key, int64_t min, int64_t max) const;
  Duration duration(const toml::node& n, const std::string& key) const;
  // An integer or a string such as "64KiB".
  uint64_t size(const toml::node& n, const std::string& key) const;

  // A path relative to the configuration file's directory, so that a configuration and the
  // files it names move together; absolute paths and the embedded default's are unchanged.
  std::string resolvePath(const std::string& value) const;

  // "a string", "an array": what a node is, for error messages.
  static const char* typeName(const toml::node& n);
  static std::string join(const std::string& path, std::string_view key);
  static Place place(const toml::source_region& where) {
    return {static_cast<int>(where.begin.line), static_cast<int>(where.begin.column)};
  }

 private:
  std::string source_;
};

}  // namespace portd::config
