// The sink's accounting: loss, duplicates, reordering, late arrivals and RFC 3550 jitter,
// against hand-computed cases.

#include <gtest/gtest.h>

#include <vector>

#include "handlers/stream/seq_tracker.h"

namespace portd::handlers::stream {
namespace {

// Feeds sequence numbers arriving 1 ms apart, each sent 1 ms apart (no jitter).
StreamStats feed(const std::vector<uint64_t>& seqs, bool finish = true) {
  SeqTracker t;
  int64_t at = 0;
  for (uint64_t s : seqs) {
    at += 1000000;
    t.add(s, 100, static_cast<int64_t>(s) * 1000000, at + 5000000);
  }
  if (finish) {
    t.finish();
  }
  return t.stats();
}

TEST(SeqTracker, InOrderStreamHasNothingToReport) {
  const StreamStats s = feed({0, 1, 2, 3, 4});
  EXPECT_EQ(s.received, 5u);
  EXPECT_EQ(s.bytes, 500u);
  EXPECT_EQ(s.lost, 0u);
  EXPECT_EQ(s.duplicated, 0u);
  EXPECT_EQ(s.reordered, 0u);
  EXPECT_EQ(s.jitter_ns, 0.0);
}

TEST(SeqTracker, GapsAreLostAtTheEnd) {
  // 2, 3 and 7 missing.
  const StreamStats open = feed({0, 1, 4, 5, 6, 8}, false);
  EXPECT_EQ(open.lost, 0u);  // still within the window: they may come yet
  const StreamStats s = feed({0, 1, 4, 5, 6, 8});
  EXPECT_EQ(s.received, 6u);
  EXPECT_EQ(s.lost, 3u);
}

TEST(SeqTracker, DuplicatesAndReorderedAreNotLost) {
  // 3 arrives after 5 (reordered), 1 and 5 come twice.
  const StreamStats s = feed({0, 1, 1, 2, 4, 5, 3, 5, 6});
  EXPECT_EQ(s.received, 7u);
  EXPECT_EQ(s.duplicated, 2u);
  EXPECT_EQ(s.reordered, 1u);
  EXPECT_EQ(s.lost, 0u);
  EXPECT_EQ(s.bytes, 900u);
}

TEST(SeqTracker, StreamJoinedLateExtendsDownwards) {
  const StreamStats s = feed({100, 101, 99, 102});
  EXPECT_EQ(s.received, 4u);
  EXPECT_EQ(s.reordered, 1u);
  EXPECT_EQ(s.lost, 0u);
}

TEST(SeqTracker, LossLeavingTheWindowIsCountedAndLateArrivalsAreLate) {
  std::vector<uint64_t> seqs = {0, 2};  // 1 missing
  for (uint64_t s = 3; s < SeqTracker::kWindow + 10; ++s) {
    seqs.push_back(s);
  }
  const StreamStats before = feed(seqs, false);
  EXPECT_EQ(before.lost, 1u);  // out of the window: given up on without finish()
  seqs.push_back(1);
  const StreamStats s = feed(seqs);
  EXPECT_EQ(s.lost, 1u);
  EXPECT_EQ(s.late, 1u);
  EXPECT_EQ(s.reordered, 0u);
}

TEST(SeqTracker, JumpBeyondTheWindowCountsEverythingSkipped) {
  const StreamStats s = feed({0, 1, 5, 10000, 10001});
  EXPECT_EQ(s.received, 5u);
  // 2..4 and 6..9999.
  EXPECT_EQ(s.lost, 3u + 9994u);
  const StreamStats huge = feed({0, UINT64_MAX});
  EXPECT_EQ(huge.late, 1u);  // the one number with no successor is refused, not wrapped
}

TEST(SeqTracker, JitterFollowsRfc3550) {
  // Transit times 10, 12, 9, 9 ms: D = 2, 3, 0 ms.
  // J1 = 0 + (2 - 0)/16 = 0.125; J2 = 0.125 + (3 - 0.125)/16 = 0.3046875;
  // J3 = 0.3046875 + (0 - 0.3046875)/16 = 0.28564453125 (ms).
  SeqTracker t;
  const int64_t ms = 1000000;
  const int64_t offset = 123456789;  // the sender's clock: its offset must cancel out
  t.add(0, 10, offset + 0 * ms, 10 * ms);
  t.add(1, 10, offset + 20 * ms, 32 * ms);
  t.add(2, 10, offset + 40 * ms, 49 * ms);
  t.add(3, 10, offset + 60 * ms, 69 * ms);
  EXPECT_NEAR(t.stats().jitter_ns, 0.28564453125 * ms, 1e-3);
}

TEST(SeqTracker, ResetStartsAfresh) {
  SeqTracker t;
  t.add(5, 1, 0, 0);
  t.finish();
  t.reset();
  EXPECT_EQ(t.stats().received, 0u);
  t.add(0, 1, 0, 0);
  t.finish();
  EXPECT_EQ(t.stats().lost, 0u);
}

}  // namespace
}  // namespace portd::handlers::stream
