// The latency histogram: bucket layout, percentiles within the buckets' 1/64 precision,
// merging, and the CDF's shape.
#include "histogram.h"

#include <gtest/gtest.h>

#include "rng.h"

namespace tmc::loadgen {
namespace {

TEST(Histogram, BucketsCoverEveryValueOnce) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 129ull, 1000ull, 65535ull, 1ull << 30, (1ull << 43) - 1}) {
    size_t i = Histogram::index_of(v);
    EXPECT_LE(Histogram::bucket_low(i), v);
    EXPECT_GE(Histogram::bucket_high(i), v);
    // Relative width at most 1/64 above the linear range.
    if (v >= 128) {
      EXPECT_LE(Histogram::bucket_high(i) - Histogram::bucket_low(i) + 1, Histogram::bucket_low(i) / 64 + 1);
    }
  }
  for (size_t i = 0; i + 1 < Histogram::kBuckets; ++i) ASSERT_EQ(Histogram::bucket_high(i) + 1, Histogram::bucket_low(i + 1));
}

TEST(Histogram, PercentilesOfAUniformSpread) {
  Histogram h;
  for (uint64_t v = 1; v <= 1000000; ++v) h.record(v * 1000);  // 1 us .. 1 s
  EXPECT_EQ(h.count(), 1000000u);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double want = q * 1e9;
    EXPECT_NEAR(static_cast<double>(h.percentile(q)), want, want / 64 + 1000) << q;
  }
  EXPECT_EQ(h.max(), 1000000000u);
  EXPECT_EQ(h.percentile(1.0), 1000000000u);
  EXPECT_NEAR(h.mean(), 500000500.0, 1);
}

TEST(Histogram, TailOfASkewedSample) {
  // 99% at about 100 us, 1% at about 10 ms: p99 is on the body, p99.9 in the tail.
  Histogram h;
  Rng r(5);
  for (int i = 0; i < 100000; ++i) h.record(i % 100 == 0 ? 10000000 + r.below(1000) : 100000 + r.below(1000));
  EXPECT_NEAR(static_cast<double>(h.percentile(0.5)), 100500, 100500 / 64.0 + 500);
  EXPECT_LT(h.percentile(0.99), 102000u);
  EXPECT_GT(h.percentile(0.999), 9900000u);
}

TEST(Histogram, MergeAddsCounts) {
  Histogram a, b;
  for (int i = 0; i < 1000; ++i) a.record(1000);
  for (int i = 0; i < 1000; ++i) b.record(3000);
  a.merge(b);
  EXPECT_EQ(a.count(), 2000u);
  EXPECT_EQ(a.max(), 3000u);
  EXPECT_EQ(a.min(), 1000u);
  EXPECT_LE(a.percentile(0.5), 1000u + 1000 / 64);
  EXPECT_GE(a.percentile(0.51), 3000u - 3000 / 64);
}

TEST(Histogram, CdfIsMonotonicAndEndsAtOne) {
  Histogram h;
  Rng r(9);
  for (int i = 0; i < 50000; ++i) h.record(1000 + r.below(1000000));
  auto c = h.cdf(60);
  ASSERT_GT(c.size(), 20u);
  for (size_t i = 1; i < c.size(); ++i) {
    EXPECT_GT(c[i].first, c[i - 1].first);
    EXPECT_GE(c[i].second, c[i - 1].second);
  }
  EXPECT_DOUBLE_EQ(c.back().second, 1.0);
  EXPECT_EQ(c.back().first, h.max());
  EXPECT_TRUE(Histogram().cdf(60).empty());
}

}  // namespace
}  // namespace tmc::loadgen
