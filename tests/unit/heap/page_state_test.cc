// PageWord::age: ages in the 24-bit epoch field, across the counter's wrap and for stamps
// ahead of the pass's epoch.
#include "heap/page_state.h"

#include <gtest/gtest.h>

namespace tmc::heap {
namespace {

PageWord stamped(uint32_t epoch) { return PageWord::make(PageState::kResident, epoch, 0); }

TEST(PageWordAge, CountsEpochsSinceTheStamp) {
  EXPECT_EQ(stamped(100).age(100), 0u);
  EXPECT_EQ(stamped(100).age(130), 30u);
}

TEST(PageWordAge, SurvivesTheCounterPassing2To24) {
  // The epoch counter is 32 bits, the field 24: past 2^24 the stamp is the counter's low
  // bits, and a page stamped 5 epochs ago must be 5 epochs old, not 2^24.
  const uint32_t now = (1u << 24) + 1000;
  EXPECT_EQ(stamped(now - 5).age(now), 5u);
  // Stamped just before the field wrapped, read just after.
  EXPECT_EQ(stamped((1u << 24) - 3).age((1u << 24) + 2), 5u);
}

TEST(PageWordAge, AStampAheadOfNowIsYoung) {
  EXPECT_EQ(stamped(205).age(200), 0u);
  EXPECT_EQ(stamped((1u << 24) + 2).age((1u << 24) - 1), 0u);
}

TEST(PageWordAge, KeepsTheOtherFields) {
  PageWord w = PageWord::make(PageState::kCompressed, 77, 12345, 0x3, 4);
  EXPECT_EQ(w.age(80), 3u);
  EXPECT_EQ(w.state(), PageState::kCompressed);
  EXPECT_EQ(w.payload(), 12345u);
  EXPECT_EQ(w.flags(), 0x3);
  EXPECT_EQ(w.heat(), 4);
}

}  // namespace
}  // namespace tmc::heap
