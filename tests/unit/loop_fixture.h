#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <functional>

// A test that runs a libuv loop. Teardown fails the test if any handle is still open, then
// closes them and checks that the loop closes cleanly, as libuv's own tests do: a leaked
// handle is a bug even when nothing else notices.
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Runs the loop one non-blocking turn at a time until `done` is true; false after
  // `timeout_ms` (so a broken test fails instead of hanging).
  bool runUntil(const std::function<bool()>& done, uint64_t timeout_ms = 5000);

  uv_loop_t* loop() { return &loop_; }

 private:
  uv_loop_t loop_{};
};
