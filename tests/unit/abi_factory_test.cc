// The C handler table as the registry sees it: schema translation, option defaults, malformed
// tables and rejected options.
#include <gtest/gtest.h>
#include <portd/handler.h>

#include <cstdio>
#include <cstring>

#include "config/loader.h"
#include "config/option_reader.h"
#include "core/loop_context.h"
#include "handlers/abi/abi_handler.h"
#include "handlers/abi/host_api.h"
#include "handlers/bind.h"
#include "handlers/registry.h"

namespace portd::handlers {
namespace {

int noData(void*, portd_conn_t, const void*, size_t) { return 0; }

void* rejectLimit(const portd_host_api* host, const portd_options* o, char* error,
                  size_t error_len) {
  int64_t limit = 0;
  if (host->opt_int(o, "limit", &limit) != PORTD_OK) {
    std::snprintf(error, error_len, "no limit option");
    return nullptr;
  }
  if (limit > 10) {
    std::snprintf(error, error_len, "limit: must be at most 10, not %lld",
                  static_cast<long long>(limit));
    return nullptr;
  }
  static int config;
  return &config;
}

const portd_option_def kOptions[] = {
    {"limit", PORTD_OPT_INT, "5", "at most 10"},
    {"delay", PORTD_OPT_DURATION, "\"250ms\"", ""},
    {"ports", PORTD_OPT_INT_LIST, "[1, 2]", ""},
};

portd_handler_def table() {
  portd_handler_def d{};
  d.size = sizeof(portd_handler_def);
  d.option_size = sizeof(portd_option_def);
  d.name = "limited";
  d.protocols = PORTD_TCP;
  d.options = kOptions;
  d.option_count = 3;
  d.on_data = noData;
  return d;
}

TEST(AbiFactory, TranslatesTheSchemaAndParsesDefaults) {
  static const portd_handler_def d = table();
  auto f = abi::makeFactory(d);
  const HandlerDescriptor& desc = f->descriptor();
  EXPECT_EQ(desc.name, "limited");
  EXPECT_EQ(desc.protocols, unsigned{kTcp});
  ASSERT_EQ(desc.options.size(), 3u);
  EXPECT_EQ(std::get<int64_t>(desc.options[0].default_value), 5);
  EXPECT_EQ(std::get<config::Duration>(desc.options[1].default_value).count(), 250);
  EXPECT_EQ(std::get<std::vector<int64_t>>(desc.options[2].default_value),
            (std::vector<int64_t>{1, 2}));
}

TEST(AbiFactory, RefusesMalformedTables) {
  static portd_handler_def unnamed = table();
  unnamed.name = "";
  EXPECT_THROW(abi::makeFactory(unnamed), std::runtime_error);

  static portd_handler_def no_protocol = table();
  no_protocol.protocols = 0;
  EXPECT_THROW(abi::makeFactory(no_protocol), std::runtime_error);

  static portd_handler_def tcp_without_data = table();
  tcp_without_data.on_data = nullptr;
  EXPECT_THROW(abi::makeFactory(tcp_without_data), std::runtime_error);

  static const portd_option_def bad_default[] = {{"limit", PORTD_OPT_INT, "\"five\"", ""}};
  static portd_handler_def bad = table();
  bad.options = bad_default;
  bad.option_count = 1;
  try {
    abi::makeFactory(bad);
    FAIL() << "a default of the wrong type was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("default of option \"limit\""), std::string::npos)
        << e.what();
  }
}

TEST(AbiFactory, ARejectionNamingAnOptionPointsAtIt) {
  static portd_handler_def d = table();
  d.configure = rejectLimit;
  Registry r;
  ASSERT_FALSE(r.add(abi::makeFactory(d)));
  const char* text =
      "[[listener]]\nname = \"a\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\nhandler = "
      "\"limited\"\n"
      "[listener.options]\nlimit = 50\n";
  try {
    handlers::loadAndBind(text, "t.toml", r);
    FAIL() << "the handler's rejection was ignored";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.line(), 7);
    EXPECT_EQ(e.key(), "listener[0].options.limit");
    EXPECT_NE(std::string(e.what()).find("must be at most 10, not 50"), std::string::npos)
        << e.what();
  }
}

std::string g_seen_path;

void* keepPath(const portd_host_api* host, const portd_options* o, char* error, size_t error_len) {
  const char* s = nullptr;
  size_t n = 0;
  if (host->opt_string(o, "zone_file", &s, &n) != PORTD_OK) {
    std::snprintf(error, error_len, "zone_file: not readable as a string");
    return nullptr;
  }
  g_seen_path.assign(s, n);
  static int config;
  return &config;
}

TEST(AbiFactory, APathOptionArrivesResolvedAgainstTheConfigurationFile) {
  static const portd_option_def options[] = {{"zone_file", PORTD_OPT_PATH, "\"\"", ""}};
  static portd_handler_def d = table();
  d.options = options;
  d.option_count = 1;
  d.configure = keepPath;
  Registry r;
  ASSERT_FALSE(r.add(abi::makeFactory(d)));
  EXPECT_EQ(r.find("limited")->descriptor().options[0].type, OptionType::kPath);
  const char* text =
      "[[listener]]\nname = \"a\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\nhandler = "
      "\"limited\"\n"
      "[listener.options]\nzone_file = \"zones/example.zone\"\n";
  handlers::loadAndBind(text, "/etc/portd/portd.toml", r);
  EXPECT_EQ(g_seen_path, "/etc/portd/zones/example.zone");

  static const portd_option_def unknown[] = {{"x", 99, "\"\"", ""}};
  static portd_handler_def bad = table();
  bad.options = unknown;
  bad.option_count = 1;
  EXPECT_THROW(abi::makeFactory(bad), std::runtime_error);
}

TEST(ParseOptionValue, ReadsEveryTypeAndRefusesTheWrongOne) {
  EXPECT_EQ(std::get<bool>(config::parseOptionValue(OptionType::kBool, "true")), true);
  EXPECT_EQ(std::get<std::string>(config::parseOptionValue(OptionType::kString, "\"x\"")), "x");
  EXPECT_EQ(std::get<ByteSize>(config::parseOptionValue(OptionType::kSize, "\"64KiB\"")).bytes,
            65536u);
  EXPECT_THROW(config::parseOptionValue(OptionType::kInteger, "true"), config::ConfigError);
  EXPECT_THROW(config::parseOptionValue(OptionType::kInteger, "[1"), config::ConfigError);
}

// The compatibility rules of <portd/handler.h>: structures carry their size, so that a table
// from a plugin built against an older or a newer header of ABI version 1 is read correctly.
TEST(AbiFactory, ATableFromAnOlderHeaderReadsTheFieldsItLacksAsNull) {
  // As a plugin built before on_writable and on_drain existed: its table ends before them,
  // and whatever follows it in memory must not be read as callbacks.
  struct Older {
    portd_handler_def def;
  };
  static Older older{table()};
  older.def.size = offsetof(portd_handler_def, on_writable);
  older.def.on_writable = reinterpret_cast<int (*)(void*, portd_conn_t)>(0x1);  // "garbage"
  auto f = abi::makeFactory(older.def);
  EXPECT_EQ(f->descriptor().name, "limited");
  const portd_handler_def* read = abi::tableOf(*f);
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->on_writable, nullptr);
  EXPECT_EQ(read->on_drain, nullptr);
  EXPECT_EQ(read->on_data, &noData);
}

TEST(AbiFactory, ATableFromANewerHeaderLoadsOnlyIfWhatItAddsIsZero) {
  struct Newer {
    portd_handler_def def;
    void (*later_callback)(void);
  };
  static Newer zero{table(), nullptr};
  zero.def.size = sizeof(Newer);
  EXPECT_NO_THROW(abi::makeFactory(zero.def));

  static Newer uses_more{table(), +[] {}};
  uses_more.def.size = sizeof(Newer);
  try {
    abi::makeFactory(uses_more.def);
    FAIL() << "a table using fields this portd does not have was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer portd"), std::string::npos) << e.what();
  }
}

TEST(AbiFactory, ATableWithoutItsSizeIsRefusedWithTheFix) {
  static portd_handler_def d = table();
  d.size = 0;
  try {
    abi::makeFactory(d);
    FAIL() << "a table without its size was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("PORTD_HANDLER_INIT"), std::string::npos) << e.what();
  }
}

TEST(AbiFactory, OptionsAreReadWithThePluginsStride) {
  // Options of a plugin whose portd_option_def is larger (a later header): read with its
  // stride, and its extra field must be zero.
  struct WideOption {
    portd_option_def o;
    const char* later;
  };
  static const WideOption wide[] = {{{"limit", PORTD_OPT_INT, "7", "h"}, nullptr},
                                    {{"grace", PORTD_OPT_DURATION, "\"1s\"", "h"}, nullptr}};
  static portd_handler_def d = table();
  d.options = &wide[0].o;
  d.option_count = 2;
  d.option_size = sizeof(WideOption);
  auto f = abi::makeFactory(d);
  ASSERT_EQ(f->descriptor().options.size(), 2u);
  EXPECT_EQ(f->descriptor().options[1].name, "grace");
  EXPECT_EQ(std::get<config::Duration>(f->descriptor().options[1].default_value).count(), 1000);
}

// Ids are looked up only on a worker's thread: the main thread's loop context (which serves the
// admin endpoint) is not one, whatever id a plugin passes from configure().
TEST(AbiHost, HostFunctionsRefuseTheMainThreadsLoopContext) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  {
    core::LoopContext main_context(&loop, -1);
    const portd_host_api* host = abi::hostApi();
    EXPECT_EQ(host->write((uint64_t{1} << 32) | 1, "x", 1), PORTD_EWRONGTHREAD);
    EXPECT_EQ(host->close((uint64_t{1} << 32) | 1), PORTD_EWRONGTHREAD);
    sockaddr_in peer{};
    EXPECT_EQ(host->reply((uint64_t{1} << 32) | 1, reinterpret_cast<sockaddr*>(&peer), "x", 1),
              PORTD_EWRONGTHREAD);
    EXPECT_EQ(host->timer_stop((uint64_t{1} << 32) | 1), PORTD_EWRONGTHREAD);
    EXPECT_EQ(host->is_open((uint64_t{1} << 32) | 1), 0);
    EXPECT_STREQ(host->strerror(PORTD_EAGAIN),
                 "the output queue is full (write_buffer_limit); wait for on_writable");
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace portd::handlers
