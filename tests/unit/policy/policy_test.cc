// The reclaimer's pure decisions: which age the target needs, the back-off rule, the pacer.
#include "policy/policy.h"

#include <gtest/gtest.h>

namespace tmc::policy {
namespace {

TEST(AgeHistogram, BucketsArePowersOfTwo) {
  EXPECT_EQ(AgeHistogram::bucket(0), 0);
  EXPECT_EQ(AgeHistogram::bucket(1), 1);
  EXPECT_EQ(AgeHistogram::bucket(2), 2);
  EXPECT_EQ(AgeHistogram::bucket(3), 2);
  EXPECT_EQ(AgeHistogram::bucket(4), 3);
  EXPECT_EQ(AgeHistogram::bucket(1u << 23), 24);
  EXPECT_EQ(AgeHistogram::bucket((1u << 24) - 1), 24);
  for (int b = 1; b < AgeHistogram::kBuckets - 1; ++b) EXPECT_EQ(AgeHistogram::bucket(AgeHistogram::bucket_floor(b)), b);
}

TEST(ThresholdForTarget, TakesTheOldestFirst) {
  AgeHistogram h;
  for (int i = 0; i < 100; ++i) h.add(1000);  // bucket floor 512
  for (int i = 0; i < 100; ++i) h.add(10);    // floor 8
  for (int i = 0; i < 100; ++i) h.add(0);
  EXPECT_EQ(threshold_for_target(h, 0), kNoThreshold);
  EXPECT_EQ(threshold_for_target(h, 50), 512u);   // the old pages suffice
  EXPECT_EQ(threshold_for_target(h, 100), 512u);
  EXPECT_EQ(threshold_for_target(h, 101), 8u);    // into the younger ones
  EXPECT_EQ(threshold_for_target(h, 10000), 1u);  // everything but this epoch's
  EXPECT_EQ(h.total(), 300u);
}

TEST(PagesToTarget, AccountsForWhatThePoolKeeps) {
  EXPECT_EQ(pages_to_target(100 << 20, 200 << 20, 2.0), 0u);
  EXPECT_EQ(pages_to_target(100 << 20, 100 << 20, 2.0), 0u);
  // 40 MiB over at ratio 2: each page saves 2 KiB, so about 20480 pages.
  uint64_t n = pages_to_target(140 << 20, 100 << 20, 2.0);
  EXPECT_NEAR(static_cast<double>(n), 20480.0, 2.0);
  // A poor or unknown ratio still asks for progress (clamped at 1.1).
  EXPECT_GT(pages_to_target(140 << 20, 100 << 20, 0.0), n);
}

TEST(Eligible, HeatDoublesTheWait) {
  EXPECT_TRUE(eligible(10, 0, 10));
  EXPECT_FALSE(eligible(9, 0, 10));
  EXPECT_FALSE(eligible(19, 1, 10));
  EXPECT_TRUE(eligible(20, 1, 10));
  EXPECT_TRUE(eligible(320, 5, 10));
  EXPECT_FALSE(eligible(1u << 23, 0, kNoThreshold));
  EXPECT_TRUE(eligible(0, 3, 0));  // TMC_COLD_AGE=0: everything at once
}

TEST(NextHeat, ClimbsWhileUseIsMoreFrequentThanTheWait) {
  // Threshold 10; a page used every 15 epochs: evicted after its wait, back within 15.
  uint8_t heat = 0;
  heat = next_heat(heat, 5, 10, 5);  // waited 10, back after 5
  EXPECT_EQ(heat, 1);
  heat = next_heat(heat, 15, 10, 5);  // waited 20, back after 15
  EXPECT_EQ(heat, 2);
  heat = next_heat(heat, 39, 10, 5);  // waited 40, back after 39: still a mistake
  EXPECT_EQ(heat, 3);
  heat = next_heat(heat, 100, 10, 5);  // waited 80, out for 100: leave it
  EXPECT_EQ(heat, 3);
  heat = next_heat(heat, 160, 10, 5);  // out for twice its wait: cools down
  EXPECT_EQ(heat, 2);
  EXPECT_EQ(next_heat(5, 1, 10, 5), 5);  // capped
  EXPECT_EQ(next_heat(0, 1000, 10, 5), 0);
  EXPECT_EQ(next_heat(2, 1, 0, 5), 2);             // no threshold: unchanged
  EXPECT_EQ(next_heat(2, 1, kNoThreshold, 5), 2);  // nothing evicted by age now
}

TEST(Pacer, SleepsOncePerBurst) {
  Pacer p;
  p.reset(0, 0);
  // 10% of a core, all work CPU: no sleep until the debt passes kBurstNs...
  uint64_t wall = 0, cpu = 0;
  int sleeps = 0;
  uint64_t slept = 0;
  for (int i = 0; i < 8; ++i) {  // 8 x 1 ms of work
    wall += 1'000'000, cpu += 1'000'000;
    uint64_t s = p.charge(wall, cpu, 0.10);
    if (s != 0) ++sleeps, slept = s, wall += s;
  }
  // ...then one sleep that pays it back and leaves kBurstNs of credit: (4 ms + 4.x ms) / 0.1.
  EXPECT_EQ(sleeps, 1);
  EXPECT_GT(slept, 80'000'000u);
  EXPECT_LT(slept, 90'000'000u);
}

TEST(Pacer, IdleTimeBuysOnlyALittleBurst) {
  Pacer p;
  p.reset(0, 0);
  // A minute idle at 10%: would be 6 s of credit, capped to kMaxCreditNs.
  EXPECT_EQ(p.charge(60'000'000'000ull, 0, 0.10), 0u);
  uint64_t wall = 60'000'000'000ull;
  EXPECT_EQ(p.charge(wall, Pacer::kMaxCreditNs + Pacer::kBurstNs, 0.10), 0u);
  EXPECT_GT(p.charge(wall, Pacer::kMaxCreditNs + Pacer::kBurstNs + 1'000'000, 0.10), 0u);
}

TEST(Pacer, OverLongRunsCpuStaysWithinTheShare) {
  Pacer p;
  p.reset(0, 0);
  uint64_t wall = 0, cpu = 0;
  for (int i = 0; i < 10000; ++i) {
    wall += 200'000;  // 0.2 ms of work, all CPU
    cpu += 200'000;
    wall += p.charge(wall, cpu, 0.25);
  }
  double share = static_cast<double>(cpu) / static_cast<double>(wall);
  EXPECT_LE(share, 0.25 * 1.01);
  EXPECT_GE(share, 0.25 * 0.95);
}

TEST(HoldFault, SlackIsTwoPercentOfTheTargetAndAtLeastOneMiB) {
  EXPECT_EQ(hold_slack(1000ull << 20), 20ull << 20);
  EXPECT_EQ(hold_slack(10ull << 20), 1ull << 20);
  EXPECT_EQ(hold_slack(0), 1ull << 20);
}

TEST(HoldFault, HoldsOnlyAboveTheSlackAndForAtMostTheLimit) {
  const uint64_t slack = 1 << 20, max_ns = 20'000'000;
  EXPECT_FALSE(hold_fault(-(64 << 20), slack, 0, max_ns));  // below the target
  EXPECT_FALSE(hold_fault(1 << 20, slack, 0, max_ns));      // within the slack
  EXPECT_TRUE(hold_fault((1 << 20) + 1, slack, 0, max_ns));
  EXPECT_TRUE(hold_fault(64 << 20, slack, max_ns - 1, max_ns));
  EXPECT_FALSE(hold_fault(64 << 20, slack, max_ns, max_ns));  // waited long enough
  EXPECT_FALSE(hold_fault(64 << 20, slack, 0, 0));             // TMC_TARGET_HOLD=0
}

}  // namespace
}  // namespace tmc::policy
