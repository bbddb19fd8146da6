#include "core/precise_timers.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <vector>

#include "loop_fixture.h"

namespace portd::core {
namespace {

// The queue's poll handle is unreferenced, as a delayed response must not keep a draining
// worker alive; a long referenced timer keeps the loop turning here.
class PreciseTimersTest : public LoopTest {
 protected:
  struct Probe {
    PreciseTimers::Timer timer;
    uint64_t due_ns = 0;
    uint64_t fired_ns = 0;
    std::vector<int>* order = nullptr;
    int id = 0;
  };
  static void onFire(PreciseTimers::Timer* t) {
    auto* p = static_cast<Probe*>(t->owner);
    p->fired_ns = uv_hrtime();
    p->order->push_back(p->id);
  }

  void SetUp() override {
    LoopTest::SetUp();
    timers_.emplace();
    uv_timer_init(loop(), &keeper_);
    uv_timer_start(
        &keeper_, [](uv_timer_t*) {}, 3600 * 1000, 0);
  }
  void TearDown() override {
    timers_.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&keeper_), nullptr);
    uv_run(loop(), UV_RUN_NOWAIT);
    LoopTest::TearDown();
  }
  std::optional<PreciseTimers> timers_;
  uv_timer_t keeper_;
};

TEST_F(PreciseTimersTest, FireInOrderOfDueTimeNeverEarly) {
  std::vector<int> order;
  std::vector<Probe> probes(64);
  // Due times shuffled, 0.1 ms apart: the heap must give them back sorted.
  std::vector<int> offsets(probes.size());
  for (size_t i = 0; i < offsets.size(); ++i) {
    offsets[i] = static_cast<int>(i);
  }
  std::shuffle(offsets.begin(), offsets.end(), std::mt19937(7));
  const uint64_t start = uv_hrtime() + 2000000;
  for (size_t i = 0; i < probes.size(); ++i) {
    Probe& p = probes[i];
    p.timer.owner = &p;
    p.order = &order;
    p.id = offsets[i];
    p.due_ns = start + static_cast<uint64_t>(offsets[i]) * 100000;
    ASSERT_TRUE(timers_->start(loop(), &p.timer, p.due_ns, &onFire));
  }
  EXPECT_EQ(timers_->pending(), probes.size());
  ASSERT_TRUE(runUntil([&] { return order.size() == probes.size(); }));
  for (size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(order[i], static_cast<int>(i));
  }
  for (const Probe& p : probes) {
    EXPECT_GE(p.fired_ns, p.due_ns) << "fired early";
    EXPECT_FALSE(p.timer.active());
  }
  EXPECT_EQ(timers_->pending(), 0u);
}

TEST_F(PreciseTimersTest, StoppedOrRestartedTimersFireOnlyAsLastAsked) {
  std::vector<int> order;
  Probe a, b, c;
  for (Probe* p : {&a, &b, &c}) {
    p->timer.owner = p;
    p->order = &order;
  }
  a.id = 1;
  b.id = 2;
  c.id = 3;
  const uint64_t now = uv_hrtime();
  ASSERT_TRUE(timers_->start(loop(), &a.timer, now + 1000000, &onFire));
  ASSERT_TRUE(timers_->start(loop(), &b.timer, now + 2000000, &onFire));
  ASSERT_TRUE(timers_->start(loop(), &c.timer, now + 3000000, &onFire));
  timers_->stop(&a.timer);
  EXPECT_FALSE(a.timer.active());
  timers_->stop(&a.timer);  // twice is harmless
  // Restarted later than c: it now fires last.
  ASSERT_TRUE(timers_->start(loop(), &b.timer, now + 4000000, &onFire));
  EXPECT_EQ(timers_->pending(), 2u);
  ASSERT_TRUE(runUntil([&] { return order.size() == 2; }));
  EXPECT_EQ(order, (std::vector<int>{3, 2}));
}

TEST_F(PreciseTimersTest, ADueTimeInThePastFiresAtOnce) {
  std::vector<int> order;
  Probe p;
  p.timer.owner = &p;
  p.order = &order;
  ASSERT_TRUE(timers_->start(loop(), &p.timer, uv_hrtime() - 1000000, &onFire));
  ASSERT_TRUE(runUntil([&] { return order.size() == 1; }));
}

}  // namespace
}  // namespace portd::core
