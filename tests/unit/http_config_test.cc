// The http handler's options as the loader reads them: routes, limits and the errors that point
// at the offending key.

#include "handlers/http/http_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/loader.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"

using namespace portd;

namespace {

class HttpConfigTest : public ::testing::Test {
 protected:
  HttpConfigTest() { handlers::registerBuiltins(registry_); }

  // Six lines; the options start on line 7.
  static inline const std::string kHead =
      "[[listener]]\nname = \"web\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
      "handler = \"http\"\n[listener.options]\n";

  const handlers::http::HttpConfig& load(const std::string& options,
                                         const std::string& source = "test.toml") {
    config_ = handlers::loadAndBind(kHead + options, source, registry_);
    return dynamic_cast<const handlers::http::HttpConfig&>(*config_->listeners[0].handler_config);
  }

  config::ConfigError error(const std::string& options) {
    try {
      load(options);
    } catch (const config::ConfigError& e) {
      return e;
    }
    ADD_FAILURE() << "no error for:\n" << options;
    return config::ConfigError("", 0, 0, "", "");
  }

  handlers::Registry registry_;
  std::shared_ptr<const config::Config> config_;
};

}  // namespace

TEST_F(HttpConfigTest, Defaults) {
  const auto& c = load("");
  EXPECT_EQ(c.limits().max_header_bytes, 16u * 1024);
  EXPECT_EQ(c.limits().max_headers, 100u);
  EXPECT_EQ(c.limits().max_body_bytes, 1u << 20);
  EXPECT_EQ(c.limits().header_timeout_ms, 10'000u);
  EXPECT_EQ(c.limits().keepalive_timeout_ms, 75'000u);
  EXPECT_TRUE(c.echo().enabled);
  EXPECT_EQ(c.echo().prefix, "/echo");
  EXPECT_EQ(c.echo().limits.max_delay_ms, 10'000u);
  EXPECT_EQ(c.echo().limits.max_size, 1u << 20);
  EXPECT_TRUE(c.routes().empty());
}

TEST_F(HttpConfigTest, RoutesArePreRendered) {
  const auto& c = load(R"(
[[listener.options.route]]
path = "/hello"
body = "hi\n"
headers = ["X-A: b"]

[[listener.options.route]]
path = "/p/"
match = "prefix"
status = 503
content_type = ""
)");
  const handlers::http::Route* hello = c.routes().find("/hello");
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(hello->response.head,
            "HTTP/1.1 200 OK\r\nServer: portd\r\nContent-Type: text/plain\r\n"
            "Content-Length: 3\r\nX-A: b\r\n");
  EXPECT_EQ(hello->response.body, "hi\n");
  const handlers::http::Route* p = c.routes().find("/p/x");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->response.head,
            "HTTP/1.1 503 Service Unavailable\r\nServer: portd\r\nContent-Length: 0\r\n");
  EXPECT_EQ(c.routes().find("/hello/x"), nullptr);
  EXPECT_EQ(c.routes().find("/p"), nullptr);
}

TEST_F(HttpConfigTest, BodyFileIsReadRelativeToTheConfigurationFile) {
  char dir_template[] = "/tmp/portd-http-config-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  { std::ofstream(dir + "/page.html", std::ios::binary) << "<p>from a file</p>\n"; }
  const auto& c = load("[[listener.options.route]]\npath = \"/\"\nbody_file = \"page.html\"\n",
                       dir + "/portd.toml");
  const handlers::http::Route* r = c.routes().find("/");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->response.body, "<p>from a file</p>\n");
  std::filesystem::remove_all(dir);
}

struct BadHttpOption {
  const char* name;
  const char* options;
  int line;
  int column;
  const char* key;
  const char* message;
};

void PrintTo(const BadHttpOption& c, std::ostream* os) { *os << c.name; }

class BadHttpOptionTest : public HttpConfigTest,
                          public ::testing::WithParamInterface<BadHttpOption> {};

TEST_P(BadHttpOptionTest, NamesLineColumnAndKey) {
  const BadHttpOption& c = GetParam();
  config::ConfigError e = error(c.options);
  EXPECT_EQ(e.line(), c.line) << e.what();
  EXPECT_EQ(e.column(), c.column) << e.what();
  EXPECT_EQ(e.key(), c.key) << e.what();
  EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
}

#define ROUTE "[[listener.options.route]]\n"

INSTANTIATE_TEST_SUITE_P(
    Errors, BadHttpOptionTest,
    ::testing::Values(
        BadHttpOption{"route_without_path", ROUTE "body = \"x\"\n", 7, 1,
                      "listener[0].options.route[0].path", "required key is missing"},
        BadHttpOption{"relative_path", ROUTE "path = \"hello\"\n", 8, 8,
                      "listener[0].options.route[0].path", "must start with '/'"},
        BadHttpOption{"path_with_query", ROUTE "path = \"/a?b\"\n", 8, 8,
                      "listener[0].options.route[0].path", "must start with '/'"},
        BadHttpOption{"bad_match", ROUTE "path = \"/a\"\nmatch = \"regex\"\n", 9, 9,
                      "listener[0].options.route[0].match", "expected \"exact\" or \"prefix\""},
        BadHttpOption{"status_range", ROUTE "path = \"/a\"\nstatus = 99\n", 9, 10,
                      "listener[0].options.route[0].status", "between 200 and 599"},
        BadHttpOption{"status_type", ROUTE "path = \"/a\"\nstatus = \"200\"\n", 9, 10,
                      "listener[0].options.route[0].status", "expected an integer"},
        BadHttpOption{"body_and_body_file",
                      ROUTE "path = \"/a\"\nbody = \"x\"\nbody_file = \"/etc/hostname\"\n", 10, 13,
                      "listener[0].options.route[0].body_file", "either body or body_file"},
        BadHttpOption{"missing_body_file", ROUTE "path = \"/a\"\nbody_file = \"/nonexistent/b\"\n",
                      9, 13, "listener[0].options.route[0].body_file",
                      "cannot read \"/nonexistent/b\": No such file or directory"},
        // A device is never read: /dev/zero would be read until memory ran out (std::bad_alloc
        // escaped the loader), /dev/stdin until the terminal closed.
        BadHttpOption{"body_file_device", ROUTE "path = \"/a\"\nbody_file = \"/dev/zero\"\n", 9, 13,
                      "listener[0].options.route[0].body_file",
                      "\"/dev/zero\": not a regular file"},
        BadHttpOption{"body_file_directory", ROUTE "path = \"/a\"\nbody_file = \"/\"\n", 9, 13,
                      "listener[0].options.route[0].body_file", "\"/\": not a regular file"},
        BadHttpOption{"body_with_204", ROUTE "path = \"/a\"\nstatus = 204\nbody = \"x\"\n", 10, 8,
                      "listener[0].options.route[0].body", "no body"},
        BadHttpOption{"header_not_a_line", ROUTE "path = \"/a\"\nheaders = [\"X-A\"]\n", 9, 11,
                      "listener[0].options.route[0].headers", "is not a header line"},
        BadHttpOption{"header_injection",
                      ROUTE "path = \"/a\"\nheaders = [\"X-A: a\\r\\nX-B: b\"]\n", 9, 11,
                      "listener[0].options.route[0].headers", "control character"},
        BadHttpOption{"managed_header", ROUTE "path = \"/a\"\nheaders = [\"Content-Length: 5\"]\n",
                      9, 11, "listener[0].options.route[0].headers", "set by the server"},
        BadHttpOption{"content_type_header",
                      ROUTE "path = \"/a\"\nheaders = [\"Content-Type: x/y\"]\n", 9, 11,
                      "listener[0].options.route[0].headers", "use content_type"},
        BadHttpOption{"duplicate_route", ROUTE "path = \"/a\"\n" ROUTE "path = \"/a\"\n", 10, 8,
                      "listener[0].options.route[1].path", "same path"},
        BadHttpOption{"route_under_echo", ROUTE "path = \"/echo/x\"\n", 8, 8,
                      "listener[0].options.route[0].path", "served by the echo endpoint"},
        BadHttpOption{"unknown_route_key", ROUTE "path = \"/a\"\nbodyfile = \"x\"\n", 9, 1,
                      "listener[0].options.route[0].bodyfile", "unknown key in route"},
        BadHttpOption{"route_not_array", "route = \"/a\"\n", 7, 9, "listener[0].options.route",
                      "expected an array of tables"},
        BadHttpOption{"max_headers_zero", "max_headers = 0\n", 7, 15,
                      "listener[0].options.max_headers", "between 1 and 10000"},
        BadHttpOption{"max_header_bytes_small", "max_header_bytes = 10\n", 7, 20,
                      "listener[0].options.max_header_bytes", "between 256 and 64MiB"},
        BadHttpOption{"max_size_huge", "max_size = \"1GiB\"\n", 7, 12,
                      "listener[0].options.max_size", "at most 64MiB"},
        BadHttpOption{"max_delay_huge", "max_delay = \"2h\"\n", 7, 13,
                      "listener[0].options.max_delay", "at most 1h"},
        BadHttpOption{"max_delay_not_duration", "max_delay = \"10\"\n", 7, 13,
                      "listener[0].options.max_delay", "needs a unit"},
        BadHttpOption{"echo_prefix_relative", "echo_prefix = \"echo\"\n", 7, 15,
                      "listener[0].options.echo_prefix", "must start with '/'"}),
    [](const ::testing::TestParamInfo<BadHttpOption>& info) { return info.param.name; });

// The example in examples/ is a valid configuration, with its body_file found next to it.
TEST_F(HttpConfigTest, ExampleConfigurationLoads) {
  auto c = config::loadConfigFile(std::string(PORTD_SOURCE_DIR) + "/examples/http.toml");
  handlers::bind(*c, registry_);
  ASSERT_EQ(c->listeners.size(), 1u);
  const auto& http =
      dynamic_cast<const handlers::http::HttpConfig&>(*c->listeners[0].handler_config);
  const handlers::http::Route* page = http.routes().find("/static/index.html");
  ASSERT_NE(page, nullptr);
  EXPECT_NE(page->response.body.find("portd"), std::string::npos);
  EXPECT_NE(http.routes().find("/healthz"), nullptr);
}
