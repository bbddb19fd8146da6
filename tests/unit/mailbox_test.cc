#include "core/mailbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "loop_fixture.h"

using portd::core::Mailbox;

class MailboxTest : public LoopTest {};

TEST_F(MailboxTest, RunsPostedFunctionsOnTheLoopThread) {
  Mailbox mailbox(loop());
  const auto loop_thread = std::this_thread::get_id();
  std::atomic<int> ran{0};
  bool all_on_loop = true;
  std::thread poster([&] {
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(mailbox.post([&] {
        all_on_loop = all_on_loop && std::this_thread::get_id() == loop_thread;
        ++ran;
      }));
    }
  });
  ASSERT_TRUE(runUntil([&] { return ran == 1000; }));
  poster.join();
  EXPECT_TRUE(all_on_loop);
}

TEST_F(MailboxTest, RefusesPostsAfterClose) {
  Mailbox mailbox(loop());
  mailbox.close();
  EXPECT_FALSE(mailbox.post([] {}));
  // The closed mailbox no longer keeps the loop alive.
  EXPECT_EQ(uv_run(loop(), UV_RUN_DEFAULT), 0);
}

TEST_F(MailboxTest, AMessageMayCloseTheMailbox) {
  Mailbox mailbox(loop());
  int ran = 0;
  mailbox.post([&] {
    ++ran;
    mailbox.close();
  });
  mailbox.post([&] { ++ran; });
  uv_run(loop(), UV_RUN_DEFAULT);
  EXPECT_EQ(ran, 1);
}
