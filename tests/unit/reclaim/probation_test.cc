// Probation's queue of chunks: batches share the last chunk while they fit, a new chunk
// starts when they do not, room runs out only when every chunk is taken, the head is the
// oldest, slots never overlap between live chunks, and a forked child's copy marks every
// chunk it holds as inherited (and none started later).
#include "reclaim/probation.h"

#include <gtest/gtest.h>

namespace tmc::reclaim {
namespace {

constexpr uint32_t kFirstSlot = 512;  // after a staging ring of 512 slots
constexpr uint32_t kChunk = Probation::kChunkPages;

// Opens room for `pages` and fills them, as Reclaimer::move_to_probation does.
uint32_t add_batch(Probation& p, uint32_t pages, uint64_t now) {
  uint32_t first = 0;
  Probation::Chunk& c = p.open(pages, now, &first);
  c.count += pages;
  return first;
}

TEST(ProbationTest, OffWithoutChunks) {
  Probation p;
  ASSERT_TRUE(p.init(0, kFirstSlot));
  EXPECT_FALSE(p.enabled());
  EXPECT_EQ(p.slot_count(), 0u);
}

TEST(ProbationTest, BatchesShareTheLastChunkWhileTheyFit) {
  Probation p;
  ASSERT_TRUE(p.init(2, kFirstSlot));
  EXPECT_EQ(p.slot_count(), 2 * kChunk);
  EXPECT_EQ(add_batch(p, 40, 100), kFirstSlot);
  EXPECT_EQ(add_batch(p, 24, 200), kFirstSlot + 40);  // fits: 64 in all
  EXPECT_EQ(p.head().count, 64u);
  EXPECT_EQ(p.head().since_ns, 100u);  // the chunk's age is its first batch's
  // Does not fit any more: a new chunk, right after the first.
  EXPECT_EQ(add_batch(p, 10, 300), kFirstSlot + kChunk);
  EXPECT_TRUE(p.has_room(54));    // the last chunk has 54 free slots
  EXPECT_FALSE(p.has_room(55));   // and no chunk is free
  p.pop();                        // the head graduated
  EXPECT_EQ(p.head_slot(), kFirstSlot + kChunk);
  EXPECT_EQ(p.head().since_ns, 300u);
  EXPECT_TRUE(p.has_room(64));
  // The ring wraps: the new chunk takes the slots the popped one had.
  EXPECT_EQ(add_batch(p, 64, 400), kFirstSlot);
  EXPECT_FALSE(p.has_room(1));  // both chunks taken, the last one full
}

TEST(ProbationTest, LiveChunksNeverShareSlots) {
  Probation p;
  ASSERT_TRUE(p.init(4, kFirstSlot));
  bool taken[4 * kChunk] = {};
  uint64_t now = 1;
  for (int round = 0; round < 200; ++round) {
    const uint32_t pages = 1 + static_cast<uint32_t>((round * 37) % 64);
    if (!p.has_room(pages)) {
      const uint32_t first = p.head_slot() - kFirstSlot;
      for (uint32_t i = 0; i < p.head().count; ++i) taken[first + i] = false;
      p.pop();
    }
    ASSERT_TRUE(p.has_room(pages));
    const uint32_t first = add_batch(p, pages, now++) - kFirstSlot;
    for (uint32_t i = 0; i < pages; ++i) {
      ASSERT_LT(first + i, 4 * kChunk);
      ASSERT_FALSE(taken[first + i]) << "slot " << first + i << " given twice, round " << round;
      taken[first + i] = true;
    }
  }
}

TEST(ProbationTest, AForkedChildMarksTheChunksItInherited) {
  Probation p;
  ASSERT_TRUE(p.init(3, kFirstSlot));
  add_batch(p, 64, 1);
  add_batch(p, 64, 2);
  EXPECT_FALSE(p.head().inherited);
  p.mark_inherited();
  EXPECT_TRUE(p.head().inherited);
  p.pop();
  EXPECT_TRUE(p.head().inherited);
  add_batch(p, 64, 3);  // started in the child
  p.pop();
  EXPECT_FALSE(p.head().inherited);
}

}  // namespace
}  // namespace tmc::reclaim
