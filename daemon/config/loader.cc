#include "config/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>

#include "config/faults_reader.h"
#include "config/file_reader.h"
#include "config/toml_reader.h"
#include "net/datagram_guard.h"

namespace portd::config {

const char* transportName(net::Transport t) { return t == net::Transport::kTcp ? "tcp" : "udp"; }

namespace {

// Walks a parsed document and turns it into a Config, failing at the first problem with the
// place in the file where it is.
class DocumentReader {
 public:
  DocumentReader(std::string source, std::shared_ptr<const toml::table> document)
      : toml_(std::move(source)), document_(std::move(document)) {}

  std::shared_ptr<Config> read() {
    const toml::table& root = *document_;
    auto config = std::make_shared<Config>();
    config->source = toml_.source();
    toml_.checkKeys(root, "", {"server", "log", "admin", "plugin", "listener"});
    if (const toml::node* n = root.get("plugin")) {
      readPlugins(*n, *config);
    }
    if (const toml::node* n = root.get("server")) {
      readServer(toml_.table(*n, "server"), config->server);
    }
    if (const toml::node* n = root.get("log")) {
      readLog(toml_.table(*n, "log"), config->log);
    }
    if (const toml::node* listeners = root.get("listener")) {
      const toml::array* arr = listeners->as_array();
      if (arr == nullptr || !arr->is_array_of_tables()) {
        toml_.fail(listeners->source(), "listener",
                   "must be an array of tables: write each listener as [[listener]]");
      }
      std::set<std::string> names;
      // Listener names by protocol and address, so that a file with many listeners is checked
      // in O(n log n), not by comparing every pair.
      std::map<std::pair<net::Transport, std::string>, std::string> addresses;
      for (size_t i = 0; i < arr->size(); ++i) {
        const toml::table& t = *arr->get(i)->as_table();
        std::string path = fmt::format("listener[{}]", i);
        ListenerConfig l = readListener(t, path);
        if (!names.insert(l.name).second) {
          toml_.fail(t.get("name")->source(), path + ".name",
                     fmt::format("duplicate listener name \"{}\"", l.name));
        }
        if (l.address.port() != 0) {
          auto [at, added] =
              addresses.emplace(std::make_pair(l.protocol, l.address.toString()), l.name);
          if (!added) {
            toml_.fail(t.get("address")->source(), path + ".address",
                       fmt::format("{} {} is already used by listener \"{}\"",
                                   transportName(l.protocol), l.address.toString(), at->second));
          }
        }
        config->listeners.push_back(std::move(l));
      }
    }
    config->place = TomlReader::place(root.source());
    if (const toml::node* n = root.get("admin")) {
      readAdmin(toml_.table(*n, "admin"), *config);
    }
    return config;
  }

 private:
  void readPlugins(const toml::node& n, Config& config) const {
    const toml::array* arr = n.as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      toml_.fail(n.source(), "plugin",
                 "must be an array of tables: write each plugin as [[plugin]]");
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::table& t = *arr->get(i)->as_table();
      std::string path = fmt::format("plugin[{}]", i);
      toml_.checkKeys(t, path, {"path"});
      const toml::node& p = *toml_.get(t, path, "path", true);
      std::string file = toml_.str(p, path + ".path");
      if (file.empty()) {
        toml_.fail(p.source(), path + ".path", "must not be empty");
      }
      // open() would see the name end at a NUL, and load another file than the one written.
      if (file.find('\0') != std::string::npos) {
        toml_.fail(p.source(), path + ".path", "must not hold a NUL character");
      }
      // Absolute: the plugin is opened from the configuration file's directory, whatever the
      // working directory is when it is loaded (again, on a reload).
      std::string resolved =
          std::filesystem::absolute(toml_.resolvePath(file)).lexically_normal().string();
      PluginConfig& plugin = config.plugins.emplace_back();
      plugin.path = std::move(resolved);
      plugin.place = TomlReader::place(p.source());
    }
  }

  // [admin] address = "127.0.0.1:9090": health, readiness, metrics, stats and the
  // configuration over HTTP, on a listener of its own. Off when the table is absent.
  void readAdmin(const toml::table& t, Config& config) const {
    toml_.checkKeys(t, "admin", {"address"});
    const toml::node& addr = *toml_.get(t, "admin", "address", true);
    std::string error;
    auto a = net::Address::parse(toml_.str(addr, "admin.address"), &error);
    if (!a) {
      toml_.fail(addr.source(), "admin.address", error);
    }
    for (const ListenerConfig& l : config.listeners) {
      if (l.protocol == net::Transport::kTcp && a->port() != 0 && l.address == *a) {
        toml_.fail(addr.source(), "admin.address",
                   fmt::format("tcp {} is already used by listener \"{}\"", a->toString(), l.name));
      }
    }
    config.admin_address = *a;
  }

  void readServer(const toml::table& t, ServerConfig& out) const {
    toml_.checkKeys(t, "server",
                    {"workers", "shutdown_timeout", "max_connections", "busy_poll", "io_uring"});
    if (auto* n = toml_.get(t, "server", "workers", false)) {
      out.workers = static_cast<unsigned>(toml_.integer(*n, "server.workers", 0, 1024));
    }
    if (auto* n = toml_.get(t, "server", "shutdown_timeout", false)) {
      out.shutdown_timeout = toml_.duration(*n, "server.shutdown_timeout");
    }
    if (auto* n = toml_.get(t, "server", "max_connections", false)) {
      out.max_connections =
          static_cast<uint64_t>(toml_.integer(*n, "server.max_connections", 0, 100'000'000));
    }
    if (auto* n = toml_.get(t, "server", "busy_poll", false)) {
      std::string error;
      auto d = parseFineDuration(toml_.str(*n, "server.busy_poll"), &error);
      if (!d) {
        toml_.fail(n->source(), "server.busy_poll", error);
      }
      // Beyond a second a worker would never sleep at all under any traffic worth the name;
      // a longer value is a mistake rather than a wish.
      if (*d > std::chrono::seconds(1)) {
        toml_.fail(n->source(), "server.busy_poll", "at most \"1s\" (e.g. \"50us\")");
      }
      out.busy_poll = *d;
    }
    if (auto* n = toml_.get(t, "server", "io_uring", false)) {
      out.io_uring = toml_.boolean(*n, "server.io_uring");
    }
  }

  void readLog(const toml::table& t, LogConfig& out) const {
    toml_.checkKeys(t, "log", {"level", "format"});
    if (auto* n = toml_.get(t, "log", "level", false)) {
      out.level = toml_.str(*n, "log.level");
      static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                    "error", "critical", "off"};
      if (!kLevels.contains(out.level)) {
        toml_.fail(n->source(), "log.level",
                   "expected one of: trace, debug, info, warn, error, critical, off");
      }
    }
    if (auto* n = toml_.get(t, "log", "format", false)) {
      std::string f = toml_.str(*n, "log.format");
      if (f == "text") {
        out.format = LogFormat::kText;
      } else if (f == "json") {
        out.format = LogFormat::kJson;
      } else {
        toml_.fail(n->source(), "log.format", "expected \"text\" or \"json\"");
      }
    }
  }

  // backlog, defer_accept, fastopen (TCP only, checked by the caller). The kernel would take
  // larger values and cap them at net.core.somaxconn, or count defer_accept in up to 255
  // retransmissions (hours): the bounds catch a slip of the keyboard instead.
  void readHandshake(const toml::table& t, const std::string& path, ListenerConfig& l) const {
    if (auto* n = toml_.get(t, path, "backlog", false)) {
      l.backlog = static_cast<uint32_t>(toml_.integer(*n, path + ".backlog", 1, 65535));
    }
    if (auto* n = toml_.get(t, path, "defer_accept", false)) {
      l.defer_accept = toml_.duration(*n, path + ".defer_accept");
      if (*l.defer_accept > std::chrono::hours(1)) {
        toml_.fail(n->source(), path + ".defer_accept", "must be at most 1h");
      }
    }
    if (auto* n = toml_.get(t, path, "fastopen", false)) {
      l.fastopen = static_cast<uint32_t>(toml_.integer(*n, path + ".fastopen", 0, 65535));
    }
  }

  ListenerConfig readListener(const toml::table& t, const std::string& path) const {
    toml_.checkKeys(t, path,
                    {"name", "protocol", "address", "handler", "max_connections", "idle_timeout",
                     "write_buffer_limit", "lingering_timeout", "max_connections_per_ip",
                     "reuse_port", "blocked_source_ports", "udp_reply_rate", "udp_reply_burst",
                     "faults", "options", "backlog", "defer_accept", "fastopen"});
    ListenerConfig l;
    l.place = TomlReader::place(t.source());
    l.name = toml_.str(*toml_.get(t, path, "name", true), path + ".name");
    if (l.name.empty()) {
      toml_.fail(t.get("name")->source(), path + ".name", "must not be empty");
    }
    const toml::node& proto = *toml_.get(t, path, "protocol", true);
    std::string p = toml_.str(proto, path + ".protocol");
    if (p == "tcp") {
      l.protocol = net::Transport::kTcp;
    } else if (p == "udp") {
      l.protocol = net::Transport::kUdp;
    } else {
      toml_.fail(proto.source(), path + ".protocol", "expected \"tcp\" or \"udp\"");
    }
    const toml::node& addr = *toml_.get(t, path, "address", true);
    std::string error;
    auto a = net::Address::parse(toml_.str(addr, path + ".address"), &error);
    if (!a) {
      toml_.fail(addr.source(), path + ".address", error);
    }
    l.address = *a;

    for (std::string_view tcp_only :
         {"max_connections", "idle_timeout", "write_buffer_limit", "lingering_timeout",
          "max_connections_per_ip", "backlog", "defer_accept", "fastopen"}) {
      if (const toml::node* n = t.get(tcp_only); n && l.protocol != net::Transport::kTcp) {
        toml_.fail(n->source(), TomlReader::join(path, tcp_only), "applies to tcp listeners only");
      }
    }
    for (std::string_view udp_only :
         {"blocked_source_ports", "udp_reply_rate", "udp_reply_burst"}) {
      if (const toml::node* n = t.get(udp_only); n && l.protocol != net::Transport::kUdp) {
        toml_.fail(n->source(), TomlReader::join(path, udp_only), "applies to udp listeners only");
      }
    }
    if (auto* n = toml_.get(t, path, "max_connections", false)) {
      l.max_connections =
          static_cast<uint64_t>(toml_.integer(*n, path + ".max_connections", 1, 10'000'000));
    }
    if (auto* n = toml_.get(t, path, "idle_timeout", false)) {
      l.idle_timeout = toml_.duration(*n, path + ".idle_timeout");
    }
    if (auto* n = toml_.get(t, path, "write_buffer_limit", false)) {
      l.write_buffer_limit = toml_.size(*n, path + ".write_buffer_limit");
      if (l.write_buffer_limit < 1024) {
        toml_.fail(n->source(), path + ".write_buffer_limit", "must be at least 1KiB");
      }
    }
    if (auto* n = toml_.get(t, path, "lingering_timeout", false)) {
      l.lingering_timeout = toml_.duration(*n, path + ".lingering_timeout");
    }
    if (auto* n = toml_.get(t, path, "max_connections_per_ip", false)) {
      l.max_connections_per_ip =
          static_cast<uint64_t>(toml_.integer(*n, path + ".max_connections_per_ip", 0, 10'000'000));
    }
    readHandshake(t, path, l);
    if (auto* n = toml_.get(t, path, "reuse_port", false)) {
      l.reuse_port = toml_.boolean(*n, path + ".reuse_port");
    }
    if (auto* n = toml_.get(t, path, "blocked_source_ports", false)) {
      const std::string key = path + ".blocked_source_ports";
      const toml::array* ports = n->as_array();
      if (ports == nullptr) {
        toml_.fail(n->source(), key,
                   std::string("expected an array of ports, got ") + TomlReader::typeName(*n));
      }
      for (size_t i = 0; i < ports->size(); ++i) {
        l.blocked_source_ports.push_back(static_cast<uint16_t>(
            toml_.integer(*ports->get(i), key + "[" + std::to_string(i) + "]", 1, 65535)));
      }
    }
    if (auto* n = toml_.get(t, path, "udp_reply_rate", false)) {
      l.udp_reply_rate = static_cast<uint32_t>(
          toml_.integer(*n, path + ".udp_reply_rate", 0, net::ReplyLimiter::kMaxRate));
    }
    // The burst defaults to one second's worth of replies.
    l.udp_reply_burst = std::max<uint32_t>(l.udp_reply_rate, 1);
    if (auto* n = toml_.get(t, path, "udp_reply_burst", false)) {
      if (l.udp_reply_rate == 0) {
        toml_.fail(n->source(), path + ".udp_reply_burst", "needs udp_reply_rate");
      }
      l.udp_reply_burst = static_cast<uint32_t>(
          toml_.integer(*n, path + ".udp_reply_burst", 1, net::ReplyLimiter::kMaxRate));
    }
    if (l.udp_reply_rate == 0) {
      l.udp_reply_burst = 0;
    }

    if (auto* n = toml_.get(t, path, "faults", false)) {
      l.faults = readFaults(toml_, toml_.table(*n, path + ".faults"), path + ".faults", l.protocol);
    }

    const toml::node& handler = *toml_.get(t, path, "handler", true);
    l.handler = toml_.str(handler, path + ".handler");
    l.handler_place = TomlReader::place(handler.source());
    if (auto* n = toml_.get(t, path, "options", false)) {
      auto raw = std::make_shared<RawOptions>();
      raw->document = document_;
      raw->table = &toml_.table(*n, path + ".options");
      raw->place = TomlReader::place(n->source());
      l.raw_options = std::move(raw);
    }
    return l;
  }

  TomlReader toml_;
  std::shared_ptr<const toml::table> document_;
};

// toml++ limits nested values (arrays, inline tables) to 256 levels, but not the tables that
// dotted keys and table headers make: `[a.a.a.(...)]` with some 30000 parts overflows the stack
// in toml::parse() itself. So before parsing, every key and table header is checked to have at
// most kMaxKeyParts parts, which bounds the depth of the document by that many tables per
// nested value. The scan knows just enough of TOML for that: strings (whose dots are not
// separators), comments, and where a key is expected (at the start of a line outside any array
// or inline table, and after '{' or ',' in an inline table). A document it misreads is one
// toml++ refuses anyway.
constexpr int kMaxKeyParts = 16;

void checkKeyDepth(std::string_view text, const std::string& source) {
  enum class Nest : char { kArray, kInlineTable };
  std::vector<Nest> nesting;
  bool expect_key = true;
  int parts = 1;
  int line = 1;
  size_t line_start = 0;
  size_t i = 0;
  auto newline = [&](size_t at) {
    ++line;
    line_start = at + 1;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      newline(i);
      if (nesting.empty()) {
        expect_key = true;
        parts = 1;
      }
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') {
        ++i;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      // A string, possibly a quoted key: skipped whole, escapes included.
      const bool basic = c == '"';
      const bool multi = text.substr(i, 3) == std::string(3, c);
      i += multi ? 3 : 1;
      while (i < text.size()) {
        if (basic && text[i] == '\\') {
          i += 2;
          continue;
        }
        if (text[i] == '\n') {
          newline(i);
        }
        if (text[i] == c && (!multi || text.substr(i, 3) == std::string(3, c))) {
          i += multi ? 3 : 1;
          break;
        }
        ++i;
      }
      continue;
    }
    if (expect_key) {
      if (c == '.' && ++parts > kMaxKeyParts) {
        throw ConfigError(
            source, line, static_cast<int>(i - line_start) + 1, "",
            fmt::format("a key or table name has more than {} dotted parts", kMaxKeyParts));
      }
      if (c == '=' || (c == ']' && nesting.empty())) {
        expect_key = false;
        parts = 1;
      } else if (c == '}' && !nesting.empty()) {
        nesting.pop_back();  // an empty inline table
        expect_key = false;
      }
      ++i;
      continue;
    }
    if (c == '[') {
      nesting.push_back(Nest::kArray);
    } else if (c == '{') {
      nesting.push_back(Nest::kInlineTable);
      expect_key = true;
    } else if ((c == ']' || c == '}') && !nesting.empty()) {
      nesting.pop_back();
    } else if (c == ',' && !nesting.empty() && nesting.back() == Nest::kInlineTable) {
      expect_key = true;
    }
    ++i;
  }
}

}  // namespace

std::shared_ptr<Config> loadConfig(std::string_view text, const std::string& source) {
  checkKeyDepth(text, source);
  auto root = std::make_shared<toml::table>();
  try {
    *root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw ConfigError(source, static_cast<int>(e.source().begin.line),
                      static_cast<int>(e.source().begin.column), "", std::string(e.description()));
  }
  return DocumentReader(source, std::move(root)).read();
}

std::shared_ptr<Config> loadConfigFile(const std::string& path) {
  // Only a regular file of bounded size (config/file_reader.h): a directory, a device, a FIFO
  // or /proc/self/mem must be an error, not a crash or a read that never ends.
  std::string error;
  std::optional<std::string> text = readRegularFile(path, kMaxConfigFileSize, &error);
  if (!text) {
    throw ConfigError(path, 0, 0, "", "cannot read the configuration file: " + error);
  }
  return loadConfig(*text, path);
}

}  // namespace portd::config
