// The loader's structured option types: string lists, file paths and arrays of tables with a
// nested schema, and errors that point into them.

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "config/loader.h"
#include "handlers/bind.h"

using namespace portd;

namespace {

// A handler with one option of each structured type. configure() refuses a negative item.n and
// an item without an id, the way a real handler refuses values.
class StructuredFactory final : public handlers::HandlerFactory {
 public:
  const handlers::HandlerDescriptor& descriptor() const override { return d_; }
  std::shared_ptr<const net::HandlerConfig> configure(
      const config::Options& options) const override {
    const auto& items = options.getTableList("item");
    for (size_t i = 0; i < items.size(); ++i) {
      std::string at = "item[" + std::to_string(i) + "]";
      if (items[i].getString("id").empty()) {
        throw config::OptionError(at + ".id", "required key is missing");
      }
      if (items[i].getInteger("n") < 0) {
        throw config::OptionError(at + ".n", "must not be negative");
      }
    }
    return nullptr;
  }

 private:
  handlers::HandlerDescriptor d_{
      "structured",
      "test",
      handlers::kTcp,
      {{"names", config::OptionType::kStringList, std::vector<std::string>{"a"}, "names"},
       {"file", config::OptionType::kPath, std::string(), "a file"},
       {"item",
        config::OptionType::kTableList,
        std::vector<config::Options>(),
        "items",
        {{"id", config::OptionType::kString, std::string(), "id"},
         {"n", config::OptionType::kInteger, int64_t{1}, "n"},
         {"tags", config::OptionType::kStringList, std::vector<std::string>(), "tags"},
         {"path", config::OptionType::kPath, std::string(), "path"}}}}};
};

class OptionTypesTest : public ::testing::Test {
 protected:
  OptionTypesTest() { registry_.add(std::make_unique<StructuredFactory>()); }

  std::shared_ptr<const config::Config> load(const std::string& options,
                                             const std::string& source = "dir/test.toml") {
    return handlers::loadAndBind(kHead + options, source, registry_);
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

  // Six lines; the options start on line 7.
  static inline const std::string kHead =
      "[[listener]]\nname = \"s\"\nprotocol = \"tcp\"\naddress = \"127.0.0.1:0\"\n"
      "handler = \"structured\"\n[listener.options]\n";

  handlers::Registry registry_;
};

}  // namespace

TEST_F(OptionTypesTest, DefaultsWhenAbsent) {
  auto c = load("");
  const config::Options& o = *c->listeners[0].options;
  EXPECT_EQ(o.getStringList("names"), std::vector<std::string>{"a"});
  EXPECT_EQ(o.getPath("file"), "");
  EXPECT_TRUE(o.getTableList("item").empty());
}

TEST_F(OptionTypesTest, ReadsEveryType) {
  auto c = load(R"(names = ["x", "y"]
file = "body.txt"

[[listener.options.item]]
id = "first"
tags = ["t1"]
path = "/abs/file"

[[listener.options.item]]
id = "second"
n = 5
)");
  const config::Options& o = *c->listeners[0].options;
  EXPECT_EQ(o.getStringList("names"), (std::vector<std::string>{"x", "y"}));
  // Relative to the directory of the configuration file.
  EXPECT_EQ(o.getPath("file"), "dir/body.txt");
  const auto& items = o.getTableList("item");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].getString("id"), "first");
  EXPECT_EQ(items[0].getInteger("n"), 1) << "a field left out gets its default";
  EXPECT_EQ(items[0].getStringList("tags"), std::vector<std::string>{"t1"});
  EXPECT_EQ(items[0].getPath("path"), "/abs/file");
  EXPECT_EQ(items[1].getInteger("n"), 5);
  EXPECT_TRUE(items[1].getStringList("tags").empty());
}

TEST_F(OptionTypesTest, InlineTablesAndEmptyArrayAreArraysOfTables) {
  auto c = load("item = [{id = \"a\"}, {id = \"b\", n = 2}]\n");
  EXPECT_EQ(c->listeners[0].options->getTableList("item").size(), 2u);
  c = load("item = []\n");
  EXPECT_TRUE(c->listeners[0].options->getTableList("item").empty());
}

TEST_F(OptionTypesTest, PathWithoutDirectoryInTheSourceStaysRelative) {
  auto c = load("file = \"body.txt\"\n", "test.toml");
  EXPECT_EQ(c->listeners[0].options->getPath("file"), "body.txt");
}

TEST_F(OptionTypesTest, StringsAreFormattedAsTomlThatReadsBack) {
  const std::string tricky = "a\"b\\c\nd\te\x01";
  std::string formatted = config::formatOptionValue(tricky);
  EXPECT_EQ(formatted, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  toml::table t = toml::parse("x = " + formatted);
  EXPECT_EQ(t["x"].value<std::string>(), tricky);
}

TEST_F(OptionTypesTest, FormatsAsTomlForPortdCheck) {
  auto c = load("names = [\"x\"]\nitem = [{id = \"a\"}]\n");
  std::string names = config::formatOptionValue(c->listeners[0].options->values().at("names"));
  std::string item = config::formatOptionValue(c->listeners[0].options->values().at("item"));
  // toml++ writes them (the one TOML writer), on one line, and they read back as written.
  EXPECT_EQ(names, "[ \"x\" ]");
  EXPECT_EQ(item, "[ { id = \"a\", n = 1, path = \"\", tags = [] } ]");
  toml::table t = toml::parse("names = " + names + "\nitem = " + item);
  EXPECT_EQ(t["names"][0].value<std::string>(), "x");
  EXPECT_EQ(t["item"][0]["id"].value<std::string>(), "a");
  EXPECT_EQ(t["item"][0]["n"].value<int64_t>(), 1);
}

struct BadOption {
  const char* name;
  const char* options;
  int line;
  int column;
  const char* key;
  const char* message;
};

void PrintTo(const BadOption& c, std::ostream* os) { *os << c.name; }

class BadOptionTest : public OptionTypesTest, public ::testing::WithParamInterface<BadOption> {};

TEST_P(BadOptionTest, NamesLineColumnAndKey) {
  const BadOption& c = GetParam();
  config::ConfigError e = error(c.options);
  EXPECT_EQ(e.line(), c.line) << e.what();
  EXPECT_EQ(e.column(), c.column) << e.what();
  EXPECT_EQ(e.key(), c.key) << e.what();
  EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
  EXPECT_TRUE(std::string(e.what()).starts_with("dir/test.toml:" + std::to_string(c.line) + ":" +
                                                std::to_string(c.column) + ": "))
      << e.what();
}

INSTANTIATE_TEST_SUITE_P(
    Errors, BadOptionTest,
    ::testing::Values(
        BadOption{"string_list_not_array", "names = \"x\"\n", 7, 9, "listener[0].options.names",
                  "expected an array of strings, got a string"},
        BadOption{"string_list_element", "names = [\"x\", 3]\n", 7, 15,
                  "listener[0].options.names[1]", "expected a string, got an integer"},
        BadOption{"path_not_string", "file = 3\n", 7, 8, "listener[0].options.file",
                  "expected a string"},
        BadOption{"path_empty", "file = \"\"\n", 7, 8, "listener[0].options.file",
                  "must not be empty"},
        BadOption{"table_list_not_array", "item = 3\n", 7, 8, "listener[0].options.item",
                  "expected an array of tables (write each as [[listener.options.item]])"},
        BadOption{"table_list_of_strings", "item = [\"a\"]\n", 7, 8, "listener[0].options.item",
                  "expected an array of tables"},
        BadOption{"table_instead_of_array", "[listener.options.item]\nid = \"a\"\n", 7, 1,
                  "listener[0].options.item", "expected an array of tables"},
        BadOption{"unknown_field", "[[listener.options.item]]\nid = \"a\"\ncolour = 1\n", 9, 1,
                  "listener[0].options.item[0].colour",
                  "unknown key in item (it takes: id, n, tags, path)"},
        BadOption{"field_wrong_type", "[[listener.options.item]]\nid = \"a\"\nn = \"five\"\n", 9, 5,
                  "listener[0].options.item[0].n", "expected an integer, got a string"},
        BadOption{"field_list_element",
                  "[[listener.options.item]]\nid = \"a\"\ntags = [\"ok\", true]\n", 9, 15,
                  "listener[0].options.item[0].tags[1]", "expected a string, got a boolean"},
        BadOption{"handler_refuses_field",
                  "[[listener.options.item]]\nid = \"a\"\n\n[[listener.options.item]]\nid = \"b\"\n"
                  "n = -1\n",
                  12, 5, "listener[0].options.item[1].n", "must not be negative"},
        // A missing field cannot be pointed at: the error names the table it is missing from.
        BadOption{"handler_missing_field",
                  "[[listener.options.item]]\nid = \"a\"\n\n[[listener.options.item]]\nn = 2\n", 10,
                  1, "listener[0].options.item[1].id", "required key is missing"}),
    [](const ::testing::TestParamInfo<BadOption>& info) { return info.param.name; });
