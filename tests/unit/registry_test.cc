#include <gtest/gtest.h>

#include "handlers/builtin/builtin.h"

using namespace portd::handlers;

namespace {

class FakeFactory final : public HandlerFactory {
 public:
  explicit FakeFactory(std::string name) : descriptor_{std::move(name), "test", kTcp, {}} {}
  const HandlerDescriptor& descriptor() const override { return descriptor_; }
  std::shared_ptr<const HandlerConfig> configure(const Options&) const override { return nullptr; }

 private:
  HandlerDescriptor descriptor_;
};

}  // namespace

TEST(Registry, BuiltinsAreRegistered) {
  Registry r;
  registerBuiltins(r);
  ASSERT_NE(r.find("echo"), nullptr);
  ASSERT_NE(r.find("discard"), nullptr);
  EXPECT_EQ(r.find("echo")->descriptor().protocols, kTcp | kUdp);
  EXPECT_EQ(r.find("nope"), nullptr);
  EXPECT_EQ(r.names(), "discard, dns, echo, http, resp, smtp, stream");
  ASSERT_NE(r.find("smtp"), nullptr);
  EXPECT_EQ(r.find("smtp")->descriptor().protocols, kTcp);
  ASSERT_NE(r.find("stream"), nullptr);
  EXPECT_EQ(r.find("stream")->descriptor().protocols, kTcp | kUdp);
}

TEST(Registry, RefusesDuplicateNames) {
  Registry r;
  EXPECT_FALSE(r.add(std::make_unique<FakeFactory>("x")));
  auto error = r.add(std::make_unique<FakeFactory>("x"));
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("already registered"), std::string::npos);
  EXPECT_EQ(r.all().size(), 1u);
}

TEST(Registry, BuiltinDuplicateIsAProgrammingError) {
  Registry r;
  registerBuiltins(r);
  EXPECT_THROW(registerBuiltins(r), std::logic_error);
}

TEST(Registry, ProtocolNames) {
  EXPECT_EQ(protocolsToString(kTcp), "tcp");
  EXPECT_EQ(protocolsToString(kUdp), "udp");
  EXPECT_EQ(protocolsToString(kTcp | kUdp), "tcp, udp");
}
