#include "core/handle_table.h"

#include <gtest/gtest.h>

namespace portd::core {
namespace {

TEST(HandleTable, FindsWhatWasAdded) {
  HandleTable<int> t;
  int a = 1, b = 2;
  uint64_t ia = t.add(&a);
  uint64_t ib = t.add(&b);
  EXPECT_NE(ia, ib);
  EXPECT_EQ(t.get(ia), &a);
  EXPECT_EQ(t.get(ib), &b);
}

TEST(HandleTable, ZeroAndUnknownIdsFindNothing) {
  HandleTable<int> t;
  int a = 1;
  t.add(&a);
  EXPECT_EQ(t.get(0), nullptr);
  EXPECT_EQ(t.get(12345), nullptr);
  EXPECT_EQ(t.get(UINT64_MAX), nullptr);
}

TEST(HandleTable, AStaleIdNeverFindsTheObjectThatReusesItsSlot) {
  HandleTable<int> t;
  int a = 1, b = 2;
  uint64_t ia = t.add(&a);
  t.remove(ia);
  EXPECT_EQ(t.get(ia), nullptr);
  uint64_t ib = t.add(&b);
  EXPECT_EQ(t.size(), 1u) << "the slot is reused";
  EXPECT_NE(ia, ib);
  EXPECT_EQ(t.get(ia), nullptr);
  EXPECT_EQ(t.get(ib), &b);
  t.remove(ia);  // removing a stale id changes nothing
  EXPECT_EQ(t.get(ib), &b);
}

}  // namespace
}  // namespace portd::core
