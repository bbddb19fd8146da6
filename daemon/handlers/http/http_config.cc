#include "handlers/http/http_config.h"

#include <array>
#include <iterator>
#include <random>

#include "config/file_reader.h"
#include "handlers/http/field_syntax.h"
#include "handlers/http/http_handler.h"
#include "handlers/http/status.h"

namespace portd::handlers::http {

using namespace std::chrono_literals;

namespace {

constexpr int kCannedStatuses[] = {400, 404, 405, 408, 413, 417, 431, 505};
// A route's body is held in memory once, shared by the workers; a body_file larger than this is
// more likely a mistake (or a special file such as /dev/zero) than a test payload.
constexpr uint64_t kMaxBodyFile = 64 << 20;
// size= makes the response body in memory, so its limit is kept reasonable.
constexpr uint64_t kMaxEchoSize = 64 << 20;

std::vector<OptionSpec> routeFields() {
  return {
      {"path", OptionType::kString, std::string(),
       "the request path, starting with '/' (required)"},
      {"match", OptionType::kString, std::string("exact"),
       "\"exact\", or \"prefix\" to answer every path that starts with `path`"},
      {"status", OptionType::kInteger, int64_t{200}, "the response status, 200 to 599"},
      {"body", OptionType::kString, std::string(), "the response body"},
      {"body_file", OptionType::kPath, std::string(),
       "a file whose contents are the body, read when the configuration is loaded (relative to "
       "the configuration file); instead of `body`"},
      {"content_type", OptionType::kString, std::string("text/plain"),
       "the Content-Type header (\"\" for none)"},
      {"headers", OptionType::kStringList, std::vector<std::string>(),
       "extra header lines, e.g. [\"Cache-Control: no-store\"]"},
  };
}

// Checks one "Name: value" line of a route's `headers`.
void checkHeaderLine(const std::string& line, const std::string& key) {
  size_t colon = line.find(':');
  std::string_view name = std::string_view(line).substr(0, colon);
  if (colon == std::string::npos || !isToken(name)) {
    throw OptionError(key, "\"" + line + "\" is not a header line (expected \"Name: value\")");
  }
  std::string_view value = std::string_view(line).substr(colon + 1);
  if (!isFieldValue(value)) {
    throw OptionError(
        key, "the value of \"" + std::string(name) + "\" has a control character (CR, LF or NUL)");
  }
  if (isServerManagedField(name)) {
    throw OptionError(key, std::string(name) + " is set by the server");
  }
  if (equalsIgnoreCase(name, "content-type")) {
    throw OptionError(key, "use content_type to set Content-Type");
  }
}

uint64_t millis(config::Duration d) { return static_cast<uint64_t>(d.count()); }

}  // namespace

HttpConfig::HttpConfig(const Options& options, std::shared_ptr<const DynamicRoutes> dynamic)
    : dynamic_(std::move(dynamic)) {
  limits_.max_header_bytes = options.getSize("max_header_bytes");
  if (limits_.max_header_bytes < 256 || limits_.max_header_bytes > (64 << 20)) {
    throw OptionError("max_header_bytes", "must be between 256 and 64MiB");
  }
  int64_t max_headers = options.getInteger("max_headers");
  if (max_headers < 1 || max_headers > 10000) {
    throw OptionError("max_headers", "must be between 1 and 10000");
  }
  limits_.max_headers = static_cast<uint64_t>(max_headers);
  limits_.max_body_bytes = options.getSize("max_body_bytes");
  limits_.header_timeout_ms = millis(options.getDuration("header_timeout"));
  limits_.keepalive_timeout_ms = millis(options.getDuration("keepalive_timeout"));

  echo_.enabled = options.getBool("echo");
  echo_.prefix = options.getString("echo_prefix");
  if (echo_.prefix.empty() || echo_.prefix.front() != '/') {
    throw OptionError("echo_prefix", "must start with '/'");
  }
  echo_.limits.max_delay_ms = millis(options.getDuration("max_delay"));
  if (echo_.limits.max_delay_ms > 3'600'000) {
    throw OptionError("max_delay", "must be at most 1h");
  }
  echo_.limits.max_size = options.getSize("max_size");
  if (echo_.limits.max_size > kMaxEchoSize) {
    throw OptionError("max_size", "must be at most 64MiB");
  }

  readRoutes(options);

  static_assert(std::size(kCannedStatuses) == std::tuple_size_v<decltype(canned_)>);
  for (size_t i = 0; i < canned_.size(); ++i) {
    int status = kCannedStatuses[i];
    canned_[i] = makeCannedResponse(status, "text/plain", std::string(reasonPhrase(status)) + "\n");
  }
}

void HttpConfig::readRoutes(const Options& options) {
  const std::vector<Options>& routes = options.getTableList("route");
  for (size_t i = 0; i < routes.size(); ++i) {
    const Options& r = routes[i];
    std::string at = "route[" + std::to_string(i) + "]";
    Route route;
    route.path = r.getString("path");
    if (route.path.empty()) {
      throw OptionError(at + ".path", "required key is missing");
    }
    if (route.path.front() != '/' || !isFieldValue(route.path) ||
        route.path.find_first_of(" \t?#") != std::string::npos) {
      throw OptionError(at + ".path",
                        "must start with '/' and hold no space, '?', '#' or "
                        "control character");
    }
    const std::string& match = r.getString("match");
    if (match == "exact") {
      route.match = Match::kExact;
    } else if (match == "prefix") {
      route.match = Match::kPrefix;
    } else {
      throw OptionError(at + ".match", "expected \"exact\" or \"prefix\"");
    }
    if (echo_.matches(route.path)) {
      throw OptionError(at + ".path", "is served by the echo endpoint (echo_prefix = \"" +
                                          echo_.prefix + "\"); change one or set echo = false");
    }
    int64_t status = r.getInteger("status");
    if (status < 200 || status > 599) {
      throw OptionError(at + ".status", "must be between 200 and 599");
    }
    const std::string& content_type = r.getString("content_type");
    if (!isFieldValue(content_type)) {
      throw OptionError(at + ".content_type", "has a control character");
    }
    const std::vector<std::string>& headers = r.getStringList("headers");
    for (size_t h = 0; h < headers.size(); ++h) {
      checkHeaderLine(headers[h], at + ".headers");
    }
    std::string body = r.getString("body");
    const std::string& body_file = r.getPath("body_file");
    if (!body_file.empty()) {
      if (!body.empty()) {
        throw OptionError(at + ".body_file", "give either body or body_file, not both");
      }
      body = config::readOptionFile(body_file, kMaxBodyFile, at + ".body_file");
    }
    if (statusHasNoBody(static_cast<int>(status)) && !body.empty()) {
      throw OptionError(at + ".body", "a " + std::to_string(status) + " response has no body");
    }
    route.response =
        makeCannedResponse(static_cast<int>(status), content_type, std::move(body), headers);
    std::string path = route.path;
    if (!routes_.add(std::move(route))) {
      throw OptionError(at + ".path", "another route has the same path \"" + path +
                                          "\" and match \"" + match + "\"");
    }
  }
}

const CannedResponse& HttpConfig::canned(int status) const {
  for (size_t i = 0; i < canned_.size(); ++i) {
    if (kCannedStatuses[i] == status) {
      return canned_[i];
    }
  }
  return canned_[0];
}

std::unique_ptr<Handler> HttpConfig::createInstance(const InstanceContext& where) const {
  // Seeded per instance, so that workers draw different sequences.
  std::random_device device;
  uint64_t seed = (uint64_t{device()} << 32) ^ device();
  return std::make_unique<HttpHandler>(*this, seed, where.stats.requests);
}

HttpFactory::HttpFactory()
    : descriptor_{
          "http",
          "HTTP/1.1 test target: fixed routes, and an echo endpoint whose query sets the "
          "status, delay, size and headers of the response",
          kTcp,
          {
              {"route", OptionType::kTableList, std::vector<Options>(),
               "fixed responses, one [[listener.options.route]] table each", routeFields()},
              {"echo", OptionType::kBool, true, "serve the echo endpoint under echo_prefix"},
              {"echo_prefix", OptionType::kString, std::string("/echo"),
               "where the echo endpoint answers (the path itself and paths below it)"},
              {"max_delay", OptionType::kDuration, config::Duration(10s),
               "the largest delay= an echo request may ask for"},
              {"max_size", OptionType::kSize, ByteSize{1 << 20},
               "the largest size= an echo request may ask for (at most 64MiB)"},
              {"max_header_bytes", OptionType::kSize, ByteSize{16 * 1024},
               "request line and headers larger than this get 431 and the connection is closed"},
              {"max_headers", OptionType::kInteger, int64_t{100},
               "requests with more header fields get 431 and the connection is closed"},
              {"max_body_bytes", OptionType::kSize, ByteSize{1 << 20},
               "request bodies larger than this get 413 and the connection is closed"},
              {"header_timeout", OptionType::kDuration, config::Duration(10s),
               "the request head must be complete this long after its first byte, or 408 and "
               "close; also how long a new connection may stay silent (\"0s\" = no limit)"},
              {"keepalive_timeout", OptionType::kDuration, config::Duration(75s),
               "close a connection that waits this long for its next request (\"0s\" = never)"},
          }} {}

std::shared_ptr<const HandlerConfig> HttpFactory::configure(const Options& options) const {
  return std::make_shared<HttpConfig>(options);
}

}  // namespace portd::handlers::http
