// A plugin that cannot be loaded is a configuration error: `portd check` and `portd serve`
// both exit with status 2 before anything is bound, with a message that names the plugin's
// path and what is wrong with it.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon_process.h"

namespace portd::itest {
namespace {

constexpr int kExitConfig = 2;

std::string listenerOn(const std::string& handler) {
  return "[[listener]]\nname = \"l\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
         "handler = \"" +
         handler + "\"\n";
}

std::string pluginEntry(const std::string& path) {
  return "[[plugin]]\npath = \"" + path + "\"\n\n";
}

// Runs `portd check` and `portd serve` on `config`; both must refuse it with every one of
// `words` in the message, where @FILE@ stands for the configuration file's path.
void expectRefused(const std::string& config, std::vector<std::string> words) {
  TempFile file(config);
  for (std::string& w : words) {
    if (size_t at = w.find("@FILE@"); at != std::string::npos) {
      w.replace(at, 6, file.path());
    }
  }
  for (const char* command : {"check", "serve"}) {
    SCOPED_TRACE(command);
    CommandResult r = runPortd({command, "-c", file.path()});
    EXPECT_EQ(r.status, ExitStatus::exited(kExitConfig)) << r.err;
    EXPECT_NE(r.err.find("portd: configuration error: "), std::string::npos) << r.err;
    for (const std::string& w : words) {
      EXPECT_NE(r.err.find(w), std::string::npos) << "no \"" << w << "\" in:\n" << r.err;
    }
    // Nothing was bound, nothing started.
    EXPECT_EQ(r.err.find(" on 127.0.0.1:"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("portd ready"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("is valid"), std::string::npos) << r.out;
  }
}

std::string dirOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

// Every load failure is reported at the [[plugin]] entry's path, then says why.
const char* kAtPluginPath = "@FILE@:2:8: plugin[0].path: plugin ";

TEST(PluginLoadFailure, MissingFile) {
  // A relative path is resolved from the configuration file's directory, and the message
  // shows where portd looked.
  TempFile probe("");
  std::string expected = dirOf(probe.path()) + "/no-such-plugin.so";
  expectRefused(pluginEntry("no-such-plugin.so") + listenerOn("echo"),
                {kAtPluginPath + expected + ": No such file or directory"});
}

TEST(PluginLoadFailure, NotASharedObject) {
  TempFile text("this is not an ELF file\n", ".so");
  expectRefused(pluginEntry(text.path()) + listenerOn("echo"),
                {kAtPluginPath + text.path() + ": not a loadable shared object"});
}

TEST(PluginLoadFailure, NoEntryPoint) {
  expectRefused(
      pluginEntry(PLUGIN_NO_ENTRY) + listenerOn("echo"),
      {kAtPluginPath + std::string(PLUGIN_NO_ENTRY) + ": no portd_plugin_entry() symbol"});
}

TEST(PluginLoadFailure, AbiVersionMismatch) {
  expectRefused(pluginEntry(PLUGIN_BAD_ABI) + listenerOn("echo"),
                {kAtPluginPath + std::string(PLUGIN_BAD_ABI), "built for handler ABI version 999",
                 "speaks version " + std::to_string(PORTD_TEST_ABI_VERSION)});
}

TEST(PluginLoadFailure, HandlerNameTaken) {
  expectRefused(pluginEntry(PLUGIN_DUP_ECHO) + listenerOn("echo"),
                {kAtPluginPath + std::string(PLUGIN_DUP_ECHO) +
                 ": a handler named \"echo\" is already registered"});
}

TEST(PluginLoadFailure, SamePluginTwice) {
  expectRefused(
      pluginEntry(PLUGIN_MISBEHAVE) + pluginEntry(PLUGIN_MISBEHAVE) + listenerOn("misbehave"),
      {"@FILE@:5:8: plugin[1].path: plugin " + std::string(PLUGIN_MISBEHAVE) +
       ": a handler named \"misbehave\" is already registered"});
}

TEST(PluginLoadFailure, HandlerRejectsItsOptions) {
  // The reason is the handler's; the place is the listener's options table (line 9).
  expectRefused(
      pluginEntry(PLUGIN_MISBEHAVE) + listenerOn("picky") + "[listener.options]\nlevel = 42\n",
      {"@FILE@:9:1: listener[0].options: level 42 is above 10"});
}

TEST(PluginLoadFailure, HandlerRejectsOneOption) {
  // A reason starting with "NAME: " points at that option (line 11, after the '=').
  expectRefused(pluginEntry(PLUGIN_MISBEHAVE) + listenerOn("picky") +
                    "[listener.options]\nlevel = 3\nword = \"\"\n",
                {"@FILE@:11:8: listener[0].options.word: must not be empty"});
}

TEST(PluginLoadFailure, OptionOfTheWrongTypeIsCheckedBeforeTheHandler) {
  expectRefused(pluginEntry(PLUGIN_MISBEHAVE) + listenerOn("picky") +
                    "[listener.options]\nlevel = \"high\"\n",
                {"@FILE@:10:9: listener[0].options.level: expected an integer"});
}

// Listing handlers needs plugins only: a file that has [[plugin]] tables and no listener yet
// (one being written) must not fail with "no listeners".
TEST(PluginListing, HandlersWithOnlyPluginTablesListsThePluginsHandlers) {
  TempFile file(pluginEntry(PLUGIN_MISBEHAVE));
  CommandResult r = runPortd({"handlers", "-c", file.path()});
  ASSERT_EQ(r.status, ExitStatus::exited(0)) << r.err;
  EXPECT_NE(r.out.find("plugin "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("picky"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("echo"), std::string::npos) << r.out;
  // Serving it still needs a listener.
  CommandResult check = runPortd({"check", "-c", file.path()});
  EXPECT_EQ(check.status, ExitStatus::exited(kExitConfig)) << check.out;
  EXPECT_NE(check.err.find("no listeners"), std::string::npos) << check.err;
}

}  // namespace
}  // namespace portd::itest
