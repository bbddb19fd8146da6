// The descriptor notes of tests/tsan.supp, shown on libuv itself: a loop closed in one thread
// and a loop made in the next, with no lock or join between them, as `portd load` does when a
// thread with nothing to send finishes while the next one is starting. libuv closes its
// descriptors with syscall(SYS_close), which ThreadSanitizer does not see, so the second loop's
// epoll_create1(), pipe2() and eventfd() are given numbers TSan still counts as open. In the TSan
// build (.ci/test runs it with halt_on_error and the suppressions) a rule missing from
// tests/tsan.supp ends this test with a report; the other builds only check that the loops work.

#include <gtest/gtest.h>
#include <uv.h>

#include <atomic>
#include <thread>

namespace {

// A loop with an async handle (its eventfd) and a TCP socket, run once and closed.
void makeAndCloseLoop() {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);  // its epoll set and its signal pipe
  uv_async_t async;
  ASSERT_EQ(uv_async_init(&loop, &async, nullptr), 0);
  uv_tcp_t tcp;
  ASSERT_EQ(uv_tcp_init_ex(&loop, &tcp, AF_INET), 0);  // socket() now, not at connect
  uv_close(reinterpret_cast<uv_handle_t*>(&async), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp), nullptr);
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(TsanDescriptorReuse, ALoopMadeAfterAnotherThreadsLoopClosed) {
  std::atomic<bool> first_done{false};
  std::thread first([&] {
    makeAndCloseLoop();
    first_done.store(true, std::memory_order_relaxed);  // relaxed: no happens-before for TSan
  });
  while (!first_done.load(std::memory_order_relaxed)) {
    std::this_thread::yield();
  }
  std::thread second([] { makeAndCloseLoop(); });
  second.join();
  first.join();
}

}  // namespace
