// What a reload keeps of the configuration in force (config/reload.h): a listener's handler
// configuration goes over to the new configuration only when nothing it was made from changed.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/reload.h"
#include "handlers/abi/abi_handler.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"

namespace portd {
namespace {

const handlers::Registry& builtins() {
  static handlers::Registry registry = [] {
    handlers::Registry r;
    handlers::registerBuiltins(r);
    return r;
  }();
  return registry;
}

std::shared_ptr<const config::Config> load(const std::string& text,
                                           const handlers::Registry& registry = builtins()) {
  return handlers::loadAndBind(text, "test", registry);
}

std::string listener(const std::string& name, const std::string& extra = "",
                     const std::string& handler = "http") {
  return "[[listener]]\nname = \"" + name +
         "\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\nhandler = \"" + handler + "\"\n" +
         extra;
}

// Whether listener 0 of `after` keeps the handler configuration of listener 0 of `before`.
bool keeps(const std::string& before, const std::string& after) {
  return config::keepsHandler(load(before)->listeners[0], load(after)->listeners[0]);
}

TEST(ConfigReload, AnUnchangedListenerKeepsItsHandler) {
  EXPECT_TRUE(keeps(listener("a"), listener("a")));
  // Written otherwise, or moved in the file, but with the same values.
  EXPECT_TRUE(keeps(listener("a", "[listener.options]\necho_prefix = \"/echo\"\n"),
                    "\n\n" + listener("a")));
  std::string route = "[[listener.options.route]]\npath = \"/\"\nbody = \"x\"\n";
  EXPECT_TRUE(keeps(listener("a", route), listener("a", route)));
  EXPECT_TRUE(
      keeps(listener("a", "idle_timeout = \"1m\"\n"), listener("a", "idle_timeout = \"60s\"\n")));
}

TEST(ConfigReload, AnyChangeToWhatTheInstancesWereMadeFromMakesThemAgain) {
  std::string base = listener("a");
  EXPECT_FALSE(keeps(base, listener("b")));
  EXPECT_FALSE(keeps(base,
                     "[[listener]]\nname = \"a\"\nprotocol = \"tcp\"\naddress = "
                     "\"127.0.0.1:1\"\nhandler = \"http\"\n"));
  EXPECT_FALSE(keeps(base, listener("a", "max_connections = 5\n")));
  EXPECT_FALSE(keeps(base, listener("a", "idle_timeout = \"1s\"\n")));
  EXPECT_FALSE(keeps(base, listener("a", "write_buffer_limit = \"64KiB\"\n")));
  EXPECT_FALSE(keeps(base, listener("a", "lingering_timeout = \"1s\"\n")));
  EXPECT_FALSE(keeps(base, listener("a", "reuse_port = true\n")));
  EXPECT_FALSE(keeps(base, listener("a", "", "echo")));
  EXPECT_FALSE(keeps(base, listener("a", "[listener.options]\necho_prefix = \"/other\"\n")));
  // A value inside a table of a list of tables.
  EXPECT_FALSE(keeps(listener("a", "[[listener.options.route]]\npath = \"/\"\nbody = \"x\"\n"),
                     listener("a", "[[listener.options.route]]\npath = \"/\"\nbody = \"y\"\n")));
  // The protocol: echo speaks both.
  EXPECT_FALSE(keeps(listener("a", "", "echo"),
                     "[[listener]]\nname = \"a\"\nprotocol = \"udp\"\naddress = "
                     "\"127.0.0.1:0\"\nhandler = \"echo\"\n"));
}

// A handler reads the files its options name when it is configured; a reload is how a changed
// file is read again, so such a listener is always configured again.
TEST(ConfigReload, AListenerWhoseOptionsNameAFileIsConfiguredAgain) {
  std::string text = listener("a",
                              "[[listener.options.route]]\npath = \"/\"\n"
                              "body_file = \"" PORTD_SOURCE_DIR "/README.md\"\n");
  EXPECT_TRUE(load(text)->listeners[0].options_name_files);
  EXPECT_FALSE(keeps(text, text));
  EXPECT_FALSE(load(listener("a"))->listeners[0].options_name_files);
}

// Another registry entry of the same name (a new build of a plugin) is another handler.
TEST(ConfigReload, AnotherRegistryEntryOfTheSameNameIsAnotherHandler) {
  static const portd_handler_def def = [] {
    portd_handler_def d{};
    d.size = sizeof(portd_handler_def);
    d.name = "x";
    d.protocols = PORTD_TCP;
    d.on_data = [](void*, portd_conn_t, const void*, size_t) { return 0; };
    return d;
  }();
  handlers::Registry first;
  first.add(handlers::abi::makeFactory(def));
  handlers::Registry second;
  second.add(handlers::abi::makeFactory(def));
  std::string text = listener("a", "", "x");
  EXPECT_TRUE(
      config::keepsHandler(load(text, first)->listeners[0], load(text, first)->listeners[0]));
  EXPECT_FALSE(
      config::keepsHandler(load(text, first)->listeners[0], load(text, second)->listeners[0]));
}

TEST(ConfigReload, CarryOverTakesTheHandlersOfUnchangedListenersOnly) {
  auto current = load(listener("a") + listener("b") + listener("c"));
  auto next = load(listener("a") + listener("b", "[listener.options]\necho_prefix = \"/x\"\n") +
                   listener("d"));
  const config::Config* made = next.get();
  std::vector<std::string> kept;
  auto result = config::carryOverHandlers(*current, std::move(next), &kept);
  EXPECT_EQ(kept, std::vector<std::string>{"a"});
  ASSERT_EQ(result->listeners.size(), 3u);
  EXPECT_NE(result.get(), made) << "a copy, not the configuration the reload made";
  EXPECT_EQ(result->listeners[0].handler_config, current->listeners[0].handler_config);
  EXPECT_EQ(result->listeners[0].options, current->listeners[0].options);
  EXPECT_NE(result->listeners[1].handler_config, current->listeners[1].handler_config);
  EXPECT_NE(result->listeners[2].handler_config, nullptr);

  // Nothing kept: the configuration itself, not a copy.
  auto other = load(listener("z"));
  const config::Config* other_made = other.get();
  kept.clear();
  EXPECT_EQ(config::carryOverHandlers(*current, std::move(other), &kept).get(), other_made);
  EXPECT_TRUE(kept.empty());
}

}  // namespace
}  // namespace portd
