#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "config/loader.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"

using namespace portd;
using namespace std::chrono_literals;

namespace {

// A handler that speaks TCP only, to check the protocol match.
class TcpOnlyFactory final : public handlers::HandlerFactory {
 public:
  const handlers::HandlerDescriptor& descriptor() const override { return d_; }
  std::shared_ptr<const net::HandlerConfig> configure(const config::Options&) const override {
    return nullptr;
  }

 private:
  handlers::HandlerDescriptor d_{"tcponly", "test", handlers::kTcp, {}};
};

class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() {
    handlers::registerBuiltins(registry_);
    registry_.add(std::make_unique<TcpOnlyFactory>());
  }

  std::shared_ptr<const config::Config> load(const std::string& text) {
    return handlers::loadAndBind(text, "test.toml", registry_);
  }

  // Loads `text`, expects an error, and returns it.
  config::ConfigError error(const std::string& text) {
    try {
      load(text);
    } catch (const config::ConfigError& e) {
      return e;
    }
    ADD_FAILURE() << "no error for:\n" << text;
    return config::ConfigError("", 0, 0, "", "");
  }

  handlers::Registry registry_;
};

const char* kListener = R"(
[[listener]]
name = "a"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
)";

}  // namespace

TEST_F(ConfigTest, LoadsAValidFile) {
  auto c = load(R"(
[server]
workers = 3
shutdown_timeout = "250ms"

[log]
level = "debug"
format = "json"

[[listener]]
name = "tcp"
protocol = "tcp"
address = "[::1]:7001"
handler = "echo"
max_connections = 50
idle_timeout = "1m"
write_buffer_limit = "64KiB"
lingering_timeout = "250ms"

[[listener]]
name = "udp"
protocol = "udp"
address = "0.0.0.0:7001"
handler = "echo"
[listener.options]
blocked_source_ports = [9, 10]

[[listener]]
name = "sink"
protocol = "tcp"
address = "127.0.0.1:7002"
handler = "discard"
)");
  EXPECT_EQ(c->server.workers, 3u);
  EXPECT_EQ(c->server.shutdown_timeout, 250ms);
  EXPECT_EQ(c->log.level, "debug");
  EXPECT_EQ(c->log.format, config::LogFormat::kJson);
  ASSERT_EQ(c->listeners.size(), 3u);
  const auto& tcp = c->listeners[0];
  EXPECT_EQ(tcp.name, "tcp");
  EXPECT_EQ(tcp.protocol, net::Transport::kTcp);
  EXPECT_EQ(tcp.address.toString(), "[::1]:7001");
  EXPECT_EQ(tcp.max_connections, 50u);
  EXPECT_EQ(tcp.idle_timeout, 60s);
  EXPECT_EQ(tcp.write_buffer_limit, 65536u);
  EXPECT_EQ(tcp.lingering_timeout, 250ms);
  EXPECT_EQ(tcp.settings(3).lingering_timeout, 250ms);
  EXPECT_EQ(tcp.options->getIntegerList("blocked_source_ports"),
            (std::vector<int64_t>{7, 13, 17, 19, 37, 53, 123}));
  ASSERT_NE(tcp.handler_config, nullptr);
  const auto& udp = c->listeners[1];
  EXPECT_EQ(udp.protocol, net::Transport::kUdp);
  EXPECT_EQ(udp.options->getIntegerList("blocked_source_ports"), (std::vector<int64_t>{9, 10}));
  EXPECT_FALSE(udp.address.isLoopback());
  EXPECT_EQ(c->listeners[2].handler, "discard");
}

TEST_F(ConfigTest, DefaultsApply) {
  auto c = load(kListener);
  EXPECT_EQ(c->server.workers, 0u);
  EXPECT_EQ(c->server.shutdown_timeout, 10s);
  EXPECT_EQ(c->log.level, "info");
  EXPECT_EQ(c->listeners[0].max_connections, 10000u);
  EXPECT_EQ(c->listeners[0].idle_timeout, 300s);
  EXPECT_EQ(c->listeners[0].write_buffer_limit, 1u << 20);
  EXPECT_EQ(c->listeners[0].lingering_timeout, 5s);
  EXPECT_EQ(c->listeners[0].maxConnectionsPerWorker(3), 3334u);
}

// backlog, defer_accept and fastopen as nginx's `listen` has them; left out, they keep the
// socket's own settings (net::ListenTuning), so that a .socket unit's are not overridden.
TEST_F(ConfigTest, HandshakeKeys) {
  auto c =
      load(std::string(kListener) + "backlog = 64\ndefer_accept = \"1500ms\"\nfastopen = 16\n" +
           "[[listener]]\nname = \"b\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:7\"\n"
           "handler = \"echo\"\n");
  const config::ListenerConfig& set = c->listeners[0];
  EXPECT_EQ(set.backlog, 64u);
  EXPECT_EQ(set.defer_accept, 1500ms);
  EXPECT_EQ(set.fastopen, 16u);
  net::ListenTuning t = set.listenTuning();
  EXPECT_EQ(t.defer_accept, 2u) << "rounded up to whole seconds, as the kernel takes it";
  EXPECT_EQ(t.over(net::SocketTuning{100, 9, 9}), (net::SocketTuning{64, 2, 16}));

  const config::ListenerConfig& unset = c->listeners[1];
  EXPECT_FALSE(unset.backlog || unset.defer_accept || unset.fastopen);
  EXPECT_EQ(unset.listenTuning().over(net::SocketTuning{100, 3, 5}),
            (net::SocketTuning{100, 3, 5}));
  EXPECT_EQ(unset.listenTuning().over({}), (net::SocketTuning{511, 0, 0}));

  // "0s" is off, and stays off: not rounded up to a second.
  auto off = load(std::string(kListener) + "defer_accept = \"0s\"\nfastopen = 0\n");
  EXPECT_EQ(off->listeners[0].listenTuning().defer_accept, 0u);
  EXPECT_EQ(off->listeners[0].listenTuning().fastopen, 0u);
}

struct BadCase {
  const char* name;
  std::string text;
  int line;
  int column;
  const char* key;
  const char* message;
};

// Keeps test logs readable: ctest lists the case by name instead of as raw bytes.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadConfigTest : public ConfigTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadConfigTest, NamesLineColumnAndKey) {
  const BadCase& c = GetParam();
  config::ConfigError e = error(c.text);
  EXPECT_EQ(e.line(), c.line) << e.what();
  EXPECT_EQ(e.column(), c.column) << e.what();
  EXPECT_EQ(e.key(), c.key) << e.what();
  std::string what = e.what();
  EXPECT_NE(what.find(c.message), std::string::npos) << what;
  EXPECT_EQ(what.rfind("test.toml:" + std::to_string(c.line) + ":" + std::to_string(c.column), 0),
            0u)
      << what;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, BadConfigTest,
    ::testing::Values(
        BadCase{"syntax", "[server]\nworkers = = 2\n", 2, 11, "", ""},
        BadCase{"unknown_top_level", std::string(kListener) + "\n[serverr]\nworkers = 1\n", 8, 2,
                "serverr", "unknown key"},
        BadCase{"unknown_server_key", "[server]\nworker = 1\n" + std::string(kListener), 2, 1,
                "server.worker", "unknown key"},
        BadCase{"unknown_listener_key", std::string(kListener) + "adress = \"x\"\n", 7, 1,
                "listener[0].adress", "unknown key"},
        BadCase{"wrong_type", "[server]\nworkers = \"two\"\n" + std::string(kListener), 2, 11,
                "server.workers", "expected an integer, got a string"},
        BadCase{"out_of_range", "[server]\nworkers = -1\n" + std::string(kListener), 2, 11,
                "server.workers", "between 0 and 1024"},
        BadCase{"bad_duration", "[server]\nshutdown_timeout = \"10\"\n" + std::string(kListener), 2,
                20, "server.shutdown_timeout", "needs a unit"},
        BadCase{"bad_log_level", "[log]\nlevel = \"loud\"\n" + std::string(kListener), 2, 9,
                "log.level", "expected one of"},
        BadCase{"bad_address",
                "[[listener]]\nname = \"a\"\nprotocol = \"tcp\"\naddress = \"localhost:7\"\n"
                "handler = \"echo\"\n",
                4, 11, "listener[0].address", "invalid address"},
        BadCase{"bad_protocol",
                "[[listener]]\nname = \"a\"\nprotocol = \"sctp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"echo\"\n",
                3, 12, "listener[0].protocol", "expected \"tcp\" or \"udp\""},
        BadCase{"missing_key",
                "[[listener]]\nname = \"a\"\nprotocol = \"tcp\"\nhandler = \"echo\"\n", 1, 1,
                "listener[0].address", "required key is missing"},
        BadCase{"duplicate_name", std::string(kListener) + kListener, 9, 8, "listener[1].name",
                "duplicate listener name \"a\""},
        BadCase{"duplicate_address",
                "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"echo\"\n[[listener]]\nname = \"b\"\nprotocol = \"udp\"\n"
                "address = \"127.0.0.1:7\"\nhandler = \"discard\"\n",
                9, 11, "listener[1].address", "already used by listener \"a\""},
        BadCase{"unknown_handler",
                "[[listener]]\nname = \"a\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"ech\"\n",
                5, 11, "listener[0].handler",
                "unknown handler \"ech\" (registered: discard, dns, echo, http, resp, smtp, "
                "stream, tcponly)"},
        BadCase{"handler_protocol",
                "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"tcponly\"\n",
                5, 11, "listener[0].handler", "does not support udp"},
        BadCase{"tcp_only_limit",
                "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"echo\"\nidle_timeout = \"1s\"\n",
                6, 16, "listener[0].idle_timeout", "applies to tcp listeners only"},
        BadCase{"lingering_on_udp",
                "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"echo\"\nlingering_timeout = \"1s\"\n",
                6, 21, "listener[0].lingering_timeout", "applies to tcp listeners only"},
        BadCase{"backlog_on_udp",
                "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"echo\"\nbacklog = 16\n",
                6, 11, "listener[0].backlog", "applies to tcp listeners only"},
        BadCase{"defer_accept_on_udp",
                "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"echo\"\ndefer_accept = \"1s\"\n",
                6, 16, "listener[0].defer_accept", "applies to tcp listeners only"},
        BadCase{"fastopen_on_udp",
                "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"echo\"\nfastopen = 16\n",
                6, 12, "listener[0].fastopen", "applies to tcp listeners only"},
        BadCase{"backlog_zero", std::string(kListener) + "backlog = 0\n", 7, 11,
                "listener[0].backlog", "between 1 and 65535"},
        BadCase{"backlog_too_large", std::string(kListener) + "backlog = 65536\n", 7, 11,
                "listener[0].backlog", "between 1 and 65535"},
        BadCase{"fastopen_negative", std::string(kListener) + "fastopen = -1\n", 7, 12,
                "listener[0].fastopen", "between 0 and 65535"},
        BadCase{"defer_accept_too_long", std::string(kListener) + "defer_accept = \"2h\"\n", 7, 16,
                "listener[0].defer_accept", "must be at most 1h"},
        BadCase{"defer_accept_not_a_duration", std::string(kListener) + "defer_accept = 5\n", 7, 16,
                "listener[0].defer_accept", ""},
        BadCase{"udp_only_key", std::string(kListener) + "udp_reply_rate = 10\n", 7, 18,
                "listener[0].udp_reply_rate", "applies to udp listeners only"},
        BadCase{"blocked_port_range",
                "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"echo\"\nblocked_source_ports = [7, 0]\n",
                6, 28, "listener[0].blocked_source_ports[1]", "between 1 and 65535"},
        BadCase{"burst_without_rate",
                "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:7\"\n"
                "handler = \"echo\"\nudp_reply_burst = 5\n",
                6, 19, "listener[0].udp_reply_burst", "needs udp_reply_rate"},
        BadCase{"unknown_option",
                std::string(kListener) + "[listener.options]\nblocked_ports = [1]\n", 8, 1,
                "listener[0].options.blocked_ports", "unknown option for handler \"echo\""},
        BadCase{"option_type",
                std::string(kListener) + "[listener.options]\nblocked_source_ports = 7\n", 8, 24,
                "listener[0].options.blocked_source_ports", "expected an array of integers"},
        BadCase{"option_rejected",
                std::string(kListener) + "[listener.options]\nblocked_source_ports = [70000]\n", 8,
                24, "listener[0].options.blocked_source_ports", "between 1 and 65535"},
        BadCase{"listener_not_array", "[listener]\nname = \"a\"\n", 1, 1, "listener",
                "array of tables"},
        BadCase{"no_listeners", "[server]\nworkers = 1\n", 1, 1, "listener", "no listeners"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST_F(ConfigTest, MissingFileIsAnError) {
  EXPECT_THROW(config::loadConfigFile("/nonexistent/portd.toml"), config::ConfigError);
}

// config/portd.toml is the commented form of the embedded default: the two must say the same.
TEST_F(ConfigTest, EmbeddedDefaultMatchesShippedFile) {
  std::ifstream in(std::string(PORTD_SOURCE_DIR) + "/config/portd.toml");
  ASSERT_TRUE(in);
  std::stringstream file;
  file << in.rdbuf();
  toml::table shipped = toml::parse(file.str());
  toml::table embedded = toml::parse(config::defaultConfigText());
  EXPECT_EQ(shipped, embedded) << "config/portd.toml and the embedded default differ";

  // And the default is what the documentation promises: echo on loopback port 7000, TCP and UDP.
  auto c = load(std::string(config::defaultConfigText()));
  ASSERT_EQ(c->listeners.size(), 2u);
  for (const auto& l : c->listeners) {
    EXPECT_EQ(l.address.toString(), "127.0.0.1:7000");
    EXPECT_TRUE(l.address.isLoopback());
    EXPECT_EQ(l.handler, "echo");
  }
  EXPECT_NE(c->listeners[0].protocol, c->listeners[1].protocol);
}

// toml++ does not limit the tables that dotted keys and headers make, and overflows the stack
// on some 30000 parts, so keys and table names are limited to 16 parts before parsing.
TEST_F(ConfigTest, KeysWithTooManyDottedPartsAreRefusedBeforeParsing) {
  auto parts = [](int n) {
    std::string key = "a";
    for (int i = 1; i < n; ++i) {
      key += ".a";
    }
    return key;
  };
  config::ConfigError e = error("[" + parts(100000) + "]\n");
  EXPECT_EQ(e.line(), 1);
  EXPECT_EQ(e.column(), 33);  // the 17th part's dot
  EXPECT_NE(std::string(e.what()).find("more than 16 dotted parts"), std::string::npos);
  e = error(std::string(kListener) + "x = 1\n" + parts(17) + " = 1\n");
  EXPECT_EQ(e.line(), 8);
  e = error("x = [1, {" + parts(17) + " = 1}]\n");
  EXPECT_NE(std::string(e.what()).find("dotted parts"), std::string::npos);
  // Sixteen parts reach the loader, which then names the unknown key; dots in strings, values
  // and comments are not key parts.
  e = error(parts(16) + " = 1\n");
  EXPECT_NE(std::string(e.what()).find("unknown key"), std::string::npos) << e.what();
  auto c = load(
      "# a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a\n"
      "[[listener]]\n"
      "name = \"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a\"\n"
      "protocol = 'tcp' # .a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a\n"
      "address = \"\"\"127.0.0.1:0\"\"\"\n"
      "handler = \"echo\"\n");
  EXPECT_EQ(c->listeners.size(), 1u);
}

TEST_F(ConfigTest, BusyPollIsOffByDefaultAndBounded) {
  auto c = load(std::string("[server]\n") + kListener);
  EXPECT_EQ(c->server.busy_poll.count(), 0);
  c = load(std::string("[server]\nbusy_poll = \"50us\"\n") + kListener);
  EXPECT_EQ(c->server.busy_poll.count(), 50);
  for (const char* bad : {"\"2s\"", "\"50\"", "50", "\"fast\""}) {
    config::ConfigError e = error(std::string("[server]\nbusy_poll = ") + bad + "\n" + kListener);
    EXPECT_NE(std::string(e.what()).find("server.busy_poll"), std::string::npos) << e.what();
  }
}
