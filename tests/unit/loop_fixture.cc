#include "loop_fixture.h"

#include <chrono>
#include <string>
#include <thread>

void LoopTest::SetUp() { ASSERT_EQ(uv_loop_init(&loop_), 0); }

void LoopTest::TearDown() {
  // Handles whose owners were destroyed are closing already; one turn finishes them.
  uv_run(&loop_, UV_RUN_NOWAIT);
  std::string leaked;
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void* arg) {
        if (!uv_is_closing(h)) {
          *static_cast<std::string*>(arg) += std::string(uv_handle_type_name(h->type)) + " ";
          uv_close(h, nullptr);
        }
      },
      &leaked);
  EXPECT_EQ(leaked, "") << "libuv handles left open by the test";
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop_), 0);
}

bool LoopTest::runUntil(const std::function<bool()>& done, uint64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    if (uv_run(&loop_, UV_RUN_NOWAIT) == 0) {
      // Nothing active: the condition can only change through another thread or socket.
      std::this_thread::yield();
    }
  }
  return true;
}
