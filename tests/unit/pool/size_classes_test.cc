// The size-class table: every blob size has a class, classes are ordered and fit their
// spans, and the waste figures documented in size_classes.h hold.
#include "pool/size_classes.h"

#include <gtest/gtest.h>

namespace tmc::pool {
namespace {

// Bytes of span a slot of class c really costs (its share of the tail included).
double footprint(uint32_t c) {
  const ClassInfo& ci = class_info(c);
  return static_cast<double>(ci.span_pages) * kPageSize / ci.slots;
}

struct Waste {
  double worst;  // (footprint - blob) / blob, largest over the range
  double mean;   // sum(footprint - blob) / sum(blob) over every size in the range
};

Waste waste_over(uint32_t lo, uint32_t hi) {
  Waste w{0, 0};
  double wasted = 0, bytes = 0;
  for (uint32_t b = lo; b <= hi; ++b) {
    double f = footprint(class_of(b));
    w.worst = std::max(w.worst, (f - b) / b);
    wasted += f - b;
    bytes += b;
  }
  w.mean = wasted / bytes;
  return w;
}

TEST(PoolSizeClassTest, TableShape) {
  EXPECT_EQ(kClassCount, 196u);
  EXPECT_EQ(class_info(0).slot_size, 16u);
  EXPECT_EQ(class_info(kClassCount - 1).slot_size, kMaxBlob);
  for (uint32_t c = 0; c < kClassCount; ++c) {
    const ClassInfo& ci = class_info(c);
    EXPECT_EQ(ci.slot_size % kClassStep, 0u);
    EXPECT_GE(ci.span_pages, 1u);
    EXPECT_LE(ci.span_pages, kMaxSpanPages);
    EXPECT_GE(ci.slots, 1u);
    EXPECT_LE(uint32_t{ci.slots} * ci.slot_size, uint32_t{ci.span_pages} * kPageSize);
    // No room for one more slot, and no spare page.
    EXPECT_GT(uint32_t{ci.slots + 1u} * ci.slot_size, uint32_t{ci.span_pages} * kPageSize);
    if (c > 0) {
      EXPECT_GT(ci.slot_size, class_info(c - 1).slot_size);
      // A larger class never costs less per slot than a smaller one.
      EXPECT_GT(footprint(c), footprint(c - 1)) << ci.slot_size;
    }
  }
}

TEST(PoolSizeClassTest, EverySizeHasTheSmallestClassThatFits) {
  for (uint32_t size = kMinBlob; size <= kMaxBlob; ++size) {
    uint32_t c = class_of(size);
    ASSERT_LT(c, kClassCount);
    EXPECT_GE(class_info(c).slot_size, size);
    if (c > 0) {
      EXPECT_LT(class_info(c - 1).slot_size, size);
    }
  }
}

TEST(PoolSizeClassTest, DocumentedWaste) {
  uint32_t tail_over_half_percent = 0;
  double worst_tail = 0;
  for (uint32_t c = 0; c < kClassCount; ++c) {
    const ClassInfo& ci = class_info(c);
    double span = static_cast<double>(ci.span_pages) * kPageSize;
    double tail = (span - static_cast<double>(ci.slots) * ci.slot_size) / span;
    worst_tail = std::max(worst_tail, tail);
    tail_over_half_percent += tail > 0.005;
  }
  EXPECT_EQ(tail_over_half_percent, kClassCount - 182);
  EXPECT_NEAR(worst_tail, 0.0132, 0.0001);

  Waste mid = waste_over(1500, 2500);
  EXPECT_NEAR(mid.worst, 0.032, 0.001);
  EXPECT_NEAR(mid.mean, 0.0085, 0.0005);
  Waste wide = waste_over(500, 3072);
  EXPECT_NEAR(wide.worst, 0.032, 0.001);
  EXPECT_NEAR(wide.mean, 0.0091, 0.0005);
  Waste all = waste_over(256, 4096);
  EXPECT_NEAR(all.worst, 0.066, 0.001);
  EXPECT_NEAR(all.mean, 0.0114, 0.0005);
}

}  // namespace
}  // namespace tmc::pool
