#include "config/loader.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "plugin/plugin_loader.h"

namespace portd::config {

const char* transportName(net::Transport t) { return t == net::Transport::kTcp ? "tcp" : "udp"; }

ConfigError::ConfigError(std::string source, int line, int column, std::string key,
                         const std::string& what)
    : std::runtime_error(key.empty()
                             ? fmt::format("{}:{}:{}: {}", source, line, column, what)
                             : fmt::format("{}:{}:{}: {}: {}", source, line, column, key, what)),
      line_(line),
      column_(column),
      key_(std::move(key)) {}

namespace {

const char* nodeTypeName(const toml::node& n) {
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

// Walks a parsed document and turns it into a Config, failing at the first problem with the
// place in the file where it is.
class Reader {
 public:
  Reader(std::string source, const handlers::Registry& registry)
      : source_(std::move(source)), registry_(registry) {}

  std::shared_ptr<const Config> read(const toml::table& root) {
    auto config = std::make_shared<Config>();
    config->source = source_;
    checkKeys(root, "", {"server", "log", "admin", "plugin", "listener"});
    // Plugins first: their handlers must be known when the listeners are checked.
    if (const toml::node* n = root.get("plugin")) {
      readPlugins(*n, *config);
    }
    config->registry = std::make_shared<const handlers::Registry>(registry_);
    if (const toml::node* n = root.get("server")) {
      readServer(table(*n, "server"), config->server);
    }
    if (const toml::node* n = root.get("log")) {
      readLog(table(*n, "log"), config->log);
    }
    const toml::node* listeners = root.get("listener");
    if (listeners == nullptr) {
      fail(root.source(), "listener", "no listeners: add at least one [[listener]] table");
    }
    const toml::array* arr = listeners->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      fail(listeners->source(), "listener",
           "must be an array of tables: write each listener as [[listener]]");
    }
    std::set<std::string> names;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::table& t = *arr->get(i)->as_table();
      std::string path = fmt::format("listener[{}]", i);
      ListenerConfig l = readListener(t, path);
      if (!names.insert(l.name).second) {
        fail(t.get("name")->source(), path + ".name",
             fmt::format("duplicate listener name \"{}\"", l.name));
      }
      for (const ListenerConfig& other : config->listeners) {
        if (l.protocol == other.protocol && l.address.port() != 0 && l.address == other.address) {
          fail(t.get("address")->source(), path + ".address",
               fmt::format("{} {} is already used by listener \"{}\"", transportName(l.protocol),
                           l.address.toString(), other.name));
        }
      }
      config->listeners.push_back(std::move(l));
    }
    if (const toml::node* n = root.get("admin")) {
      readAdmin(table(*n, "admin"), *config);
    }
    return config;
  }

 private:
  [[noreturn]] void fail(const toml::source_region& where, const std::string& key,
                         const std::string& what) const {
    throw ConfigError(source_, static_cast<int>(where.begin.line),
                      static_cast<int>(where.begin.column), key, what);
  }

  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  void checkKeys(const toml::table& t, const std::string& path,
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

  const toml::table& table(const toml::node& n, const std::string& path) const {
    if (!n.is_table()) {
      fail(n.source(), path, fmt::format("expected a table, got {}", nodeTypeName(n)));
    }
    return *n.as_table();
  }

  const toml::node* get(const toml::table& t, const std::string& path, std::string_view key,
                        bool required) const {
    const toml::node* n = t.get(key);
    if (n == nullptr && required) {
      fail(t.source(), join(path, key), "required key is missing");
    }
    return n;
  }

  std::string str(const toml::node& n, const std::string& key) const {
    if (!n.is_string()) {
      fail(n.source(), key, fmt::format("expected a string, got {}", nodeTypeName(n)));
    }
    return std::string(n.as_string()->get());
  }

  int64_t integer(const toml::node& n, const std::string& key, int64_t min, int64_t max) const {
    if (!n.is_integer()) {
      fail(n.source(), key, fmt::format("expected an integer, got {}", nodeTypeName(n)));
    }
    int64_t v = n.as_integer()->get();
    if (v < min || v > max) {
      fail(n.source(), key, fmt::format("must be between {} and {}", min, max));
    }
    return v;
  }

  Duration duration(const toml::node& n, const std::string& key) const {
    std::string error;
    auto d = parseDuration(str(n, key), &error);
    if (!d) {
      fail(n.source(), key, error);
    }
    return *d;
  }

  uint64_t size(const toml::node& n, const std::string& key) const {
    if (n.is_integer()) {
      return static_cast<uint64_t>(integer(n, key, 0, INT64_MAX));
    }
    if (!n.is_string()) {
      fail(n.source(), key,
           fmt::format("expected a size (an integer or a string such as \"64KiB\"), got {}",
                       nodeTypeName(n)));
    }
    std::string error;
    auto s = parseSize(n.as_string()->get(), &error);
    if (!s) {
      fail(n.source(), key, error);
    }
    return *s;
  }

  void readPlugins(const toml::node& n, Config& config) {
    const toml::array* arr = n.as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      fail(n.source(), "plugin", "must be an array of tables: write each plugin as [[plugin]]");
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::table& t = *arr->get(i)->as_table();
      std::string path = fmt::format("plugin[{}]", i);
      checkKeys(t, path, {"path"});
      const toml::node& p = *get(t, path, "path", true);
      std::string file = str(p, path + ".path");
      if (file.empty()) {
        fail(p.source(), path + ".path", "must not be empty");
      }
      // Relative to the configuration file, so that a config and its plugins move together.
      std::filesystem::path resolved(file);
      if (resolved.is_relative() && source_ != kDefaultConfigSource) {
        resolved = std::filesystem::path(source_).parent_path() / resolved;
      }
      try {
        // Absolute: dlopen() searches the library path for a name without a slash.
        config.plugins.push_back(plugin::loadPlugin(
            std::filesystem::absolute(resolved).lexically_normal().string(), registry_));
      } catch (const plugin::PluginError& e) {
        fail(p.source(), path + ".path", e.what());
      }
    }
  }

  // [admin] address = "127.0.0.1:9090": health, readiness, metrics, stats and the
  // configuration over HTTP, on a listener of its own. Off when the table is absent.
  void readAdmin(const toml::table& t, Config& config) const {
    checkKeys(t, "admin", {"address"});
    const toml::node& addr = *get(t, "admin", "address", true);
    std::string error;
    auto a = net::Address::parse(str(addr, "admin.address"), &error);
    if (!a) {
      fail(addr.source(), "admin.address", error);
    }
    for (const ListenerConfig& l : config.listeners) {
      if (l.protocol == net::Transport::kTcp && a->port() != 0 && l.address == *a) {
        fail(addr.source(), "admin.address",
             fmt::format("tcp {} is already used by listener \"{}\"", a->toString(), l.name));
      }
    }
    config.admin_address = *a;
  }

  void readServer(const toml::table& t, ServerConfig& out) const {
    checkKeys(t, "server", {"workers", "shutdown_timeout"});
    if (auto* n = get(t, "server", "workers", false)) {
      out.workers = static_cast<unsigned>(integer(*n, "server.workers", 0, 1024));
    }
    if (auto* n = get(t, "server", "shutdown_timeout", false)) {
      out.shutdown_timeout = duration(*n, "server.shutdown_timeout");
    }
  }

  void readLog(const toml::table& t, LogConfig& out) const {
    checkKeys(t, "log", {"level", "format"});
    if (auto* n = get(t, "log", "level", false)) {
      out.level = str(*n, "log.level");
      static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                    "error", "critical", "off"};
      if (!kLevels.contains(out.level)) {
        fail(n->source(), "log.level",
             "expected one of: trace, debug, info, warn, error, critical, off");
      }
    }
    if (auto* n = get(t, "log", "format", false)) {
      std::string f = str(*n, "log.format");
      if (f == "text") {
        out.format = LogFormat::kText;
      } else if (f == "json") {
        out.format = LogFormat::kJson;
      } else {
        fail(n->source(), "log.format", "expected \"text\" or \"json\"");
      }
    }
  }

  ListenerConfig readListener(const toml::table& t, const std::string& path) const {
    checkKeys(t, path,
              {"name", "protocol", "address", "handler", "max_connections", "idle_timeout",
               "write_buffer_limit", "options"});
    ListenerConfig l;
    l.name = str(*get(t, path, "name", true), path + ".name");
    if (l.name.empty()) {
      fail(t.get("name")->source(), path + ".name", "must not be empty");
    }
    const toml::node& proto = *get(t, path, "protocol", true);
    std::string p = str(proto, path + ".protocol");
    if (p == "tcp") {
      l.protocol = net::Transport::kTcp;
    } else if (p == "udp") {
      l.protocol = net::Transport::kUdp;
    } else {
      fail(proto.source(), path + ".protocol", "expected \"tcp\" or \"udp\"");
    }
    const toml::node& addr = *get(t, path, "address", true);
    std::string error;
    auto a = net::Address::parse(str(addr, path + ".address"), &error);
    if (!a) {
      fail(addr.source(), path + ".address", error);
    }
    l.address = *a;

    for (std::string_view tcp_only : {"max_connections", "idle_timeout", "write_buffer_limit"}) {
      if (const toml::node* n = t.get(tcp_only); n && l.protocol != net::Transport::kTcp) {
        fail(n->source(), join(path, tcp_only), "applies to tcp listeners only");
      }
    }
    if (auto* n = get(t, path, "max_connections", false)) {
      l.max_connections =
          static_cast<uint64_t>(integer(*n, path + ".max_connections", 1, 10'000'000));
    }
    if (auto* n = get(t, path, "idle_timeout", false)) {
      l.idle_timeout = duration(*n, path + ".idle_timeout");
    }
    if (auto* n = get(t, path, "write_buffer_limit", false)) {
      l.write_buffer_limit = size(*n, path + ".write_buffer_limit");
      if (l.write_buffer_limit < 1024) {
        fail(n->source(), path + ".write_buffer_limit", "must be at least 1KiB");
      }
    }

    const toml::node& handler = *get(t, path, "handler", true);
    l.handler = str(handler, path + ".handler");
    const handlers::HandlerFactory* factory = registry_.find(l.handler);
    if (factory == nullptr) {
      fail(handler.source(), path + ".handler",
           fmt::format("unknown handler \"{}\" (registered: {})", l.handler, registry_.names()));
    }
    const handlers::HandlerDescriptor& desc = factory->descriptor();
    unsigned need = l.protocol == net::Transport::kTcp ? handlers::kTcp : handlers::kUdp;
    if ((desc.protocols & need) == 0) {
      fail(handler.source(), path + ".handler",
           fmt::format("handler \"{}\" does not support {} (it supports: {})", l.handler,
                       transportName(l.protocol), handlers::protocolsToString(desc.protocols)));
    }

    static const toml::table kEmpty;
    const toml::table* opts = &kEmpty;
    std::string opts_path = path + ".options";
    if (auto* n = get(t, path, "options", false)) {
      opts = &table(*n, opts_path);
    }
    l.options = std::make_shared<const handlers::Options>(readOptions(
        *opts, opts_path, desc.options, fmt::format("option for handler \"{}\"", desc.name)));
    try {
      l.handler_config = factory->configure(*l.options);
    } catch (const handlers::OptionError& e) {
      const toml::node* at = findOption(*opts, e.key());
      fail(at ? at->source() : (opts->source().begin.line ? opts->source() : t.source()),
           e.key().empty() ? opts_path : join(opts_path, e.key()), e.what());
    }
    return l;
  }

  // The node an OptionError's key names ("max_size", "route[2].body_file"), or the nearest
  // enclosing one that exists: a required field that was left out is reported at its table.
  static const toml::node* findOption(const toml::table& opts, std::string_view key) {
    while (!key.empty()) {
      if (const toml::node* n = opts.at_path(key).node()) {
        return n;
      }
      size_t cut = key.find_last_of(".[");
      key = key.substr(0, cut == std::string_view::npos ? 0 : cut);
    }
    return nullptr;
  }

  // `what` names the kind of key in the "unknown ..." message, e.g. `option for handler "echo"`.
  std::map<std::string, handlers::OptionValue> readOptions(
      const toml::table& t, const std::string& path,
      const std::vector<handlers::OptionSpec>& schema, const std::string& what) const {
    std::map<std::string, handlers::OptionValue> values;
    for (const handlers::OptionSpec& spec : schema) {
      values[spec.name] = spec.default_value;
    }
    for (auto&& [key, node] : t) {
      std::string k(key.str());
      std::string full = join(path, k);
      const handlers::OptionSpec* spec = nullptr;
      for (const handlers::OptionSpec& s : schema) {
        if (s.name == k) {
          spec = &s;
        }
      }
      if (spec == nullptr) {
        std::string known;
        for (const handlers::OptionSpec& s : schema) {
          known += known.empty() ? s.name : ", " + s.name;
        }
        fail(key.source(), full,
             fmt::format("unknown {} ({})", what,
                         known.empty() ? "it takes no options" : "it takes: " + known));
      }
      values[k] = readOptionValue(node, full, *spec);
    }
    return values;
  }

  // A relative path names a file next to the configuration file, so that a configuration and
  // the files it mentions can move together.
  std::string resolvePath(const std::string& value) const {
    if (value.empty() || value.front() == '/') {
      return value;
    }
    size_t slash = source_.rfind('/');
    if (slash == std::string::npos) {
      return value;
    }
    return source_.substr(0, slash + 1) + value;
  }

 public:
  handlers::OptionValue optionValue(const toml::node& n, const std::string& key,
                                    handlers::OptionType type) const {
    return readOptionValue(n, key, handlers::OptionSpec{key, type, {}, "", {}});
  }

 private:
  handlers::OptionValue readOptionValue(const toml::node& n, const std::string& key,
                                        const handlers::OptionSpec& spec) const {
    using handlers::OptionType;
    switch (spec.type) {
      case OptionType::kBool:
        if (!n.is_boolean()) {
          fail(n.source(), key, fmt::format("expected a boolean, got {}", nodeTypeName(n)));
        }
        return n.as_boolean()->get();
      case OptionType::kInteger:
        return integer(n, key, INT64_MIN, INT64_MAX);
      case OptionType::kString:
        return str(n, key);
      case OptionType::kDuration:
        return duration(n, key);
      case OptionType::kSize:
        return handlers::ByteSize{size(n, key)};
      case OptionType::kIntegerList: {
        if (!n.is_array()) {
          fail(n.source(), key,
               fmt::format("expected an array of integers, got {}", nodeTypeName(n)));
        }
        std::vector<int64_t> out;
        for (const toml::node& item : *n.as_array()) {
          out.push_back(integer(item, key, INT64_MIN, INT64_MAX));
        }
        return out;
      }
      case OptionType::kStringList: {
        if (!n.is_array()) {
          fail(n.source(), key,
               fmt::format("expected an array of strings, got {}", nodeTypeName(n)));
        }
        std::vector<std::string> out;
        const toml::array& arr = *n.as_array();
        for (size_t i = 0; i < arr.size(); ++i) {
          out.push_back(str(*arr.get(i), fmt::format("{}[{}]", key, i)));
        }
        return out;
      }
      case OptionType::kPath: {
        std::string value = str(n, key);
        if (value.empty()) {
          fail(n.source(), key, "must not be empty");
        }
        return resolvePath(value);
      }
      case OptionType::kTableList: {
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
          fail(n.source(), key,
               fmt::format("expected an array of tables (write each as [[{}]]), got {}", header,
                           nodeTypeName(n)));
        }
        std::vector<handlers::Options> out;
        std::string what = fmt::format("key in {}", key.substr(key.rfind('.') + 1));
        for (size_t i = 0; i < arr->size(); ++i) {
          out.emplace_back(readOptions(*arr->get(i)->as_table(), fmt::format("{}[{}]", key, i),
                                       spec.fields, what));
        }
        return out;
      }
    }
    fail(n.source(), key, "unsupported option type");
  }

  std::string source_;
  handlers::Registry registry_;  // the built-ins, then each plugin's handlers
};

}  // namespace

handlers::OptionValue parseOptionValue(handlers::OptionType type, std::string_view text) {
  std::string doc = "value = " + std::string(text);
  toml::table root;
  try {
    root = toml::parse(std::string_view(doc), std::string_view("(option default)"));
  } catch (const toml::parse_error& e) {
    throw ConfigError("(option default)", 1, 1, "", std::string(e.description()));
  }
  handlers::Registry none;
  return Reader("(option default)", none).optionValue(*root.get("value"), "value", type);
}

std::shared_ptr<const Config> loadConfig(std::string_view text, const std::string& source,
                                         const handlers::Registry& registry) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw ConfigError(source, static_cast<int>(e.source().begin.line),
                      static_cast<int>(e.source().begin.column), "", std::string(e.description()));
  }
  return Reader(source, registry).read(root);
}

std::shared_ptr<const Config> loadConfigFile(const std::string& path,
                                             const handlers::Registry& registry) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(path, 0, 0, "", "cannot open the configuration file");
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return loadConfig(buf.str(), path, registry);
}

}  // namespace portd::config
