#include "core/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "net/output_queue.h"

using portd::core::BufferPool;
using portd::net::OutputQueue;

TEST(BufferPool, ReusesReleasedBlocks) {
  BufferPool pool(1024, 2);
  char* a = pool.acquire();
  pool.release(a);
  for (int i = 0; i < 100; ++i) {
    char* b = pool.acquire();
    EXPECT_EQ(b, a);
    pool.release(b);
  }
  EXPECT_EQ(pool.allocations(), 1u);
  EXPECT_EQ(pool.outstanding(), 0u);
}

TEST(BufferPool, CachesAtMostTheLimit) {
  BufferPool pool(64, 2);
  char* blocks[5];
  for (char*& b : blocks) {
    b = pool.acquire();
  }
  EXPECT_EQ(pool.outstanding(), 5u);
  for (char* b : blocks) {
    pool.release(b);
  }
  EXPECT_EQ(pool.cached(), 2u);
  EXPECT_EQ(pool.outstanding(), 0u);
}

TEST(OutputQueue, KeepsOrderAcrossBlocks) {
  BufferPool pool(16, 8);
  OutputQueue q(pool);
  std::string data;
  for (int i = 0; i < 100; ++i) {
    data += static_cast<char>('a' + i % 26);
  }
  q.append(std::string_view(data).substr(0, 30));
  q.append(std::string_view(data).substr(30));
  EXPECT_EQ(q.size(), 100u);

  std::string out;
  while (!q.empty()) {
    iovec bufs[4];
    unsigned n = q.peek(bufs, 4);
    ASSERT_GT(n, 0u);
    ASSERT_LE(n, 4u);
    // Consume only part of what was offered, as a short write would.
    size_t take = std::min<size_t>(bufs[0].iov_len, 7);
    out.append(static_cast<const char*>(bufs[0].iov_base), take);
    q.consume(take);
  }
  EXPECT_EQ(out, data);
  EXPECT_EQ(pool.outstanding(), 0u);
}

TEST(OutputQueue, ClearReturnsBlocks) {
  BufferPool pool(16, 8);
  {
    OutputQueue q(pool);
    q.append(std::string(100, 'x'));
    EXPECT_GT(pool.outstanding(), 0u);
  }
  EXPECT_EQ(pool.outstanding(), 0u);
}

// Referenced bytes are sent from where they are, in order with copied ones, and never given to
// the pool (they are not its blocks); copies after them start a new block of the pool's.
TEST(OutputQueue, ReferencedBytesAreNotCopiedNorReturnedToThePool) {
  static const std::string kShared(40, 'S');
  BufferPool pool(16, 8);
  OutputQueue q(pool);
  q.append("head:");
  q.appendReferenced(kShared);
  q.append(":tail");
  q.appendReferenced(kShared);
  EXPECT_EQ(q.size(), 5u + 40 + 5 + 40);
  EXPECT_EQ(pool.outstanding(), 2u) << "one block for each run of copied bytes";

  iovec bufs[4];
  ASSERT_EQ(q.peek(bufs, 4), 4u);
  EXPECT_EQ(bufs[1].iov_base, kShared.data()) << "sent from the shared bytes themselves";
  EXPECT_EQ(bufs[3].iov_base, kShared.data());

  std::string out;
  while (!q.empty()) {
    unsigned n = q.peek(bufs, 4);
    ASSERT_GT(n, 0u);
    const size_t take = std::min<size_t>(bufs[0].iov_len, 9);
    out.append(static_cast<const char*>(bufs[0].iov_base), take);
    q.consume(take);
  }
  EXPECT_EQ(out, "head:" + kShared + ":tail" + kShared);
  EXPECT_EQ(pool.outstanding(), 0u);

  q.appendReferenced(kShared);
  q.append("x");
  q.clear();
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_EQ(kShared, std::string(40, 'S'));
}
