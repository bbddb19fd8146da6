#include "core/timer_pool.h"

#include <gtest/gtest.h>

#include <optional>

#include "loop_fixture.h"

namespace portd::core {
namespace {

// Pool timers are unreferenced, so they fire only while something else keeps the loop alive
// (in the daemon: the listeners and connections). Here a long referenced timer plays that part.
class TimerPoolTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    pool_.emplace(loop());
    uv_timer_init(loop(), &keeper_);
    uv_timer_start(
        &keeper_, [](uv_timer_t*) {}, 3600 * 1000, 0);
  }
  void TearDown() override {
    pool_->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&keeper_), nullptr);
    uv_run(loop(), UV_RUN_NOWAIT);
    LoopTest::TearDown();
  }
  std::optional<TimerPool> pool_;
  uv_timer_t keeper_;
};

TEST_F(TimerPoolTest, FiresOnceAndTheIdGoesStale) {
  int fired = 0;
  uint64_t id = pool_->start(
      1, [](void* arg) { ++*static_cast<int*>(arg); }, &fired, nullptr);
  EXPECT_NE(id, 0u);
  EXPECT_EQ(pool_->pending(), 1u);
  ASSERT_TRUE(runUntil([&] { return fired == 1; }));
  EXPECT_EQ(pool_->pending(), 0u);
  EXPECT_FALSE(pool_->stop(id)) << "a fired timer's id is stale";
}

TEST_F(TimerPoolTest, AStoppedTimerNeverFires) {
  int fired = 0;
  uint64_t id = pool_->start(
      1, [](void* arg) { ++*static_cast<int*>(arg); }, &fired, nullptr);
  EXPECT_TRUE(pool_->stop(id));
  EXPECT_FALSE(pool_->stop(id));
  int other = 0;
  pool_->start(
      5, [](void* arg) { ++*static_cast<int*>(arg); }, &other, nullptr);
  ASSERT_TRUE(runUntil([&] { return other == 1; }));
  EXPECT_EQ(fired, 0);
}

TEST_F(TimerPoolTest, HandlesAreReusedAndTheLoopIsNotKeptAlive) {
  int fired = 0;
  for (int i = 0; i < 3; ++i) {
    pool_->start(
        1, [](void* arg) { ++*static_cast<int*>(arg); }, &fired, nullptr);
    ASSERT_TRUE(runUntil([&] { return fired == i + 1; }));
  }
  // Unreferenced: with only a pending handler timer, uv_run(DEFAULT) returns at once.
  pool_->start(
      60000, [](void*) {}, nullptr, nullptr);
  uv_timer_stop(&keeper_);
  EXPECT_EQ(uv_run(loop(), UV_RUN_DEFAULT), 0);
}

TEST_F(TimerPoolTest, CancelAllStopsOnlyTheOwnersTimers) {
  int a = 0, b = 0;
  int owner_a = 0, owner_b = 0;
  pool_->start(
      1, [](void* arg) { ++*static_cast<int*>(arg); }, &a, &owner_a);
  pool_->start(
      1, [](void* arg) { ++*static_cast<int*>(arg); }, &b, &owner_b);
  pool_->cancelAll(&owner_a);
  ASSERT_TRUE(runUntil([&] { return b == 1; }));
  EXPECT_EQ(a, 0);
}

TEST_F(TimerPoolTest, ACallbackMayStartATimerAndKnowsItsOwner) {
  struct State {
    TimerPool* pool;
    int fired = 0;
    const void* owner_seen = nullptr;
  } s{&*pool_};
  pool_->start(
      1,
      [](void* arg) {
        auto* st = static_cast<State*>(arg);
        st->owner_seen = st->pool->firingOwner();
        if (++st->fired == 1) {
          st->pool->start(
              1, [](void* a) { ++static_cast<State*>(a)->fired; }, st, nullptr);
        }
      },
      &s, &s);
  ASSERT_TRUE(runUntil([&] { return s.fired == 2; }));
  EXPECT_EQ(s.owner_seen, &s);
  EXPECT_EQ(pool_->firingOwner(), nullptr);
}

}  // namespace
}  // namespace portd::core
