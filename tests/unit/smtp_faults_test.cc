// The smtp handler's fault options: what they accept, the errors that name them, and how often
// each form fires.

#include <gtest/gtest.h>

#include <string>

#include "handlers/smtp/faults.h"

namespace portd::handlers::smtp {
namespace {

std::string errorOf(std::string_view option, std::string_view text) {
  FaultPlan plan;
  std::string error;
  EXPECT_FALSE(plan.set(option, text, &error)) << option << " = " << text;
  return error;
}

TEST(SmtpFaultsTest, Percentages) {
  uint32_t ppm = 0;
  ASSERT_TRUE(parsePercent("10", &ppm));
  EXPECT_EQ(ppm, 100000u);
  ASSERT_TRUE(parsePercent("2.5", &ppm));
  EXPECT_EQ(ppm, 25000u);
  ASSERT_TRUE(parsePercent("0.0001", &ppm));
  EXPECT_EQ(ppm, 1u);
  ASSERT_TRUE(parsePercent("100", &ppm));
  EXPECT_EQ(ppm, kPpm);
  for (const char* bad : {"", "101", "100.1", "1.", ".5", "0.00001", "-1", "1e2", "5%", "x"}) {
    EXPECT_FALSE(parsePercent(bad, &ppm)) << bad;
  }
}

TEST(SmtpFaultsTest, ErrorsNameTheOption) {
  EXPECT_EQ(errorOf("fault_rcpt", "abc"),
            "fault_rcpt: invalid reply code \"abc\" (expected 400 to 599)");
  EXPECT_EQ(errorOf("fault_mail", "250:10"),
            "fault_mail: invalid reply code \"250\" (expected 400 to 599)");
  EXPECT_EQ(errorOf("fault_data_end", "550:101"),
            "fault_data_end: invalid percentage \"101\" (expected 0 to 100, e.g. 2.5, or every=N)");
  EXPECT_EQ(errorOf("fault_rcpt", "451:every=0"),
            "fault_rcpt: invalid \"every=0\" (expected every=N, N from 1)");
  EXPECT_EQ(errorOf("fault_rcpt", "451:60,452:50"),
            "fault_rcpt: too many entries, or percentages adding up to more than 100");
  EXPECT_EQ(errorOf("fault_rcpt", "451:1,"), "fault_rcpt: empty entry in the list");
  EXPECT_EQ(errorOf("fault_disconnect", "body:1"),
            "fault_disconnect: unknown stage \"body\" (expected greeting, ehlo, mail, rcpt, data, "
            "data_end or quit)");
  EXPECT_EQ(errorOf("fault_mail_delay", "10m"),
            "fault_mail_delay: delay \"10m\" must be between 1ms and 5m");
  EXPECT_NE(errorOf("fault_mail_delay", "200").find("fault_mail_delay: "), std::string::npos);
  std::string many = "451:1";
  for (int i = 0; i < 8; ++i) {
    many += ",451:1";
  }
  EXPECT_EQ(errorOf("fault_rcpt", many),
            "fault_rcpt: too many entries, or percentages adding up to more than 100");
}

TEST(SmtpFaultsTest, EveryNthCountsEachTimeTheStageIsReached) {
  FaultPlan plan;
  std::string error;
  ASSERT_TRUE(plan.set("fault_rcpt", "451:every=2", &error)) << error;
  ASSERT_TRUE(plan.set("fault_421", "mail:every=3", &error)) << error;
  SplitMix64 rng(1);
  for (int i = 1; i <= 12; ++i) {
    const Fault r = plan.decide(Stage::kRcpt, rng);
    EXPECT_EQ(r.kind, i % 2 == 0 ? Fault::Kind::kReply : Fault::Kind::kNone) << i;
    if (i % 2 == 0) {
      EXPECT_EQ(r.code, 451);
    }
    EXPECT_EQ(plan.decide(Stage::kMail, rng).kind,
              i % 3 == 0 ? Fault::Kind::kClose421 : Fault::Kind::kNone);
    EXPECT_EQ(plan.decide(Stage::kData, rng).kind, Fault::Kind::kNone);
  }
}

TEST(SmtpFaultsTest, ProbabilitiesHoldAndASeedRepeats) {
  FaultPlan plan;
  std::string error;
  ASSERT_TRUE(plan.set("fault_data_end", "451:10,550:5", &error)) << error;
  ASSERT_TRUE(plan.set("fault_mail_delay", "200ms:50", &error)) << error;
  ASSERT_TRUE(plan.set("fault_disconnect", "rcpt:1, data:every=1000", &error)) << error;
  SplitMix64 a(42);
  SplitMix64 b(42);
  int n451 = 0, n550 = 0, delays = 0, disconnects = 0;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    const Fault f = plan.decide(Stage::kDataEnd, a);
    ASSERT_EQ(f.code, plan.decide(Stage::kDataEnd, b).code);
    n451 += f.code == 451;
    n550 += f.code == 550;
    const Fault m = plan.decide(Stage::kMail, a);
    (void)plan.decide(Stage::kMail, b);
    EXPECT_TRUE(m.delay_ms == 0 || m.delay_ms == 200);
    delays += m.delay_ms == 200;
    disconnects += plan.decide(Stage::kRcpt, a).kind == Fault::Kind::kDisconnect;
    (void)plan.decide(Stage::kRcpt, b);
  }
  // Each twice (a and b share the plan's counters, not their draws): 10% of 2 * 100000.
  EXPECT_NEAR(n451, 10000, 600);
  EXPECT_NEAR(n550, 5000, 450);
  EXPECT_NEAR(delays, 50000, 1000);
  EXPECT_NEAR(disconnects, 1000, 200);
}

TEST(SmtpFaultsTest, ValueWithoutPercentageAlwaysFires) {
  FaultPlan plan;
  std::string error;
  ASSERT_TRUE(plan.set("fault_greeting", "554", &error)) << error;
  ASSERT_TRUE(plan.set("fault_quit_delay", "1s", &error)) << error;
  SplitMix64 rng(7);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(plan.decide(Stage::kGreeting, rng).code, 554);
    EXPECT_EQ(plan.decide(Stage::kQuit, rng).delay_ms, 1000u);
  }
  EXPECT_TRUE(plan.any());
  EXPECT_FALSE(FaultPlan().any());
}

}  // namespace
}  // namespace portd::handlers::smtp
