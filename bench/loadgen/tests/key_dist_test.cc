// Key distributions: Zipf shares against 1/k^s, the hot set's share of requests, that
// uniform is uniform, that ranks map to keys one to one, and the spec parser.
#include "key_dist.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

namespace tmc::loadgen {
namespace {

constexpr int kDraws = 2000000;

TEST(Zipf, RankSharesFollowThePowerLaw) {
  for (double s : {0.5, 0.99, 1.0, 1.2}) {
    const uint64_t n = 1000;
    ZipfSampler z(n, s);
    Rng rng(42);
    std::vector<uint64_t> count(n + 1, 0);
    for (int i = 0; i < kDraws; ++i) {
      uint64_t k = z.sample(rng);
      ASSERT_GE(k, 1u);
      ASSERT_LE(k, n);
      ++count[k];
    }
    double h = 0;
    for (uint64_t k = 1; k <= n; ++k) h += 1 / std::pow(static_cast<double>(k), s);
    for (uint64_t k : {1, 2, 3, 10, 100}) {
      const double want = 1 / std::pow(static_cast<double>(k), s) / h;
      const double got = static_cast<double>(count[k]) / kDraws;
      // 5 standard deviations of a binomial share, plus 1% relative for the sampler.
      const double tol = 5 * std::sqrt(want * (1 - want) / kDraws) + 0.01 * want;
      EXPECT_NEAR(got, want, tol) << "s=" << s << " rank " << k;
    }
    // The top 10% of ranks: their share of requests.
    double want_top = 0, got_top = 0;
    for (uint64_t k = 1; k <= n / 10; ++k) {
      want_top += 1 / std::pow(static_cast<double>(k), s) / h;
      got_top += static_cast<double>(count[k]) / kDraws;
    }
    EXPECT_NEAR(got_top, want_top, 0.005) << "s=" << s;
  }
}

TEST(Zipf, LargeKeyCountsStayInRange) {
  ZipfSampler z(100000000, 0.99);
  Rng rng(7);
  uint64_t ones = 0;
  for (int i = 0; i < 200000; ++i) {
    uint64_t k = z.sample(rng);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, 100000000u);
    ones += k == 1;
  }
  // H(1e8, 0.99) is about 19.4: rank 1 gets about 5.2% of the draws.
  EXPECT_NEAR(static_cast<double>(ones) / 200000, 0.0516, 0.004);
}

TEST(HotSet, HotKeysGetTheirShare) {
  DistSpec d;
  std::string err;
  ASSERT_TRUE(parse_dist("hotset:10:90", &d, &err)) << err;
  const uint64_t n = 10000;
  KeyDist kd(d, n);
  std::set<uint64_t> hot;
  for (uint64_t r = 0; r < n / 10; ++r) hot.insert(kd.key_of_rank(r));
  Rng rng(1);
  uint64_t in_hot = 0;
  for (int i = 0; i < kDraws; ++i) in_hot += hot.count(kd.next(rng));
  EXPECT_NEAR(static_cast<double>(in_hot) / kDraws, 0.9, 0.002);
}

TEST(Uniform, EveryKeyAboutEquallyOften) {
  KeyDist kd(DistSpec{}, 100);
  Rng rng(3);
  std::vector<uint64_t> count(100, 0);
  for (int i = 0; i < kDraws; ++i) ++count[kd.next(rng)];
  for (uint64_t c : count) EXPECT_NEAR(static_cast<double>(c), kDraws / 100.0, 5 * std::sqrt(kDraws / 100.0));
}

TEST(KeyDist, RanksMapToKeysOneToOne) {
  for (uint64_t n : {1ull, 2ull, 10ull, 999ull, 1024ull, 65536ull, 100003ull}) {
    KeyDist kd(DistSpec{}, n);
    std::vector<bool> seen(n, false);
    for (uint64_t r = 0; r < n; ++r) {
      uint64_t k = kd.key_of_rank(r);
      ASSERT_LT(k, n);
      ASSERT_FALSE(seen[k]) << "n=" << n;
      seen[k] = true;
    }
  }
  // The most popular keys are spread out, not the first keys loaded.
  KeyDist kd(DistSpec{}, 1000000);
  EXPECT_GT(kd.key_of_rank(0) > kd.key_of_rank(1) ? kd.key_of_rank(0) - kd.key_of_rank(1)
                                                  : kd.key_of_rank(1) - kd.key_of_rank(0),
            1000u);
}

TEST(Recent, OnlyTheLastLoadedKeysAreAskedForWithZipfShares) {
  DistSpec spec;
  std::string err;
  ASSERT_TRUE(parse_dist("recent:20:0.99", &spec, &err)) << err;
  constexpr uint64_t kKeys = 100000, kDraws = 400000;
  KeyDist kd(spec, kKeys);
  Rng rng(5);
  std::vector<uint64_t> count(kKeys, 0);
  for (uint64_t i = 0; i < kDraws; ++i) {
    uint64_t k = kd.next(rng);
    ASSERT_GE(k, kKeys - kKeys / 5) << "a key outside the last 20%";
    ASSERT_LT(k, kKeys);
    ++count[k];
  }
  // The recent keys are a permutation of ranks 0..19999, and rank 0 gets its Zipf share:
  // 1 / H(20000, 0.99), about 9%.
  std::vector<bool> seen(kKeys, false);
  for (uint64_t r = 0; r < kKeys / 5; ++r) {
    uint64_t k = kd.key_of_rank(r);
    ASSERT_GE(k, kKeys - kKeys / 5);
    ASSERT_FALSE(seen[k]);
    seen[k] = true;
  }
  double h = 0;
  for (uint64_t k = 1; k <= kKeys / 5; ++k) h += std::pow(static_cast<double>(k), -0.99);
  EXPECT_NEAR(static_cast<double>(count[kd.key_of_rank(0)]) / kDraws, 1 / h, 0.01);
  EXPECT_GT(count[kd.key_of_rank(0)], count[kd.key_of_rank(1)]);
}

TEST(ParseDist, AcceptsAndRejects) {
  DistSpec d;
  std::string err;
  EXPECT_TRUE(parse_dist("uniform", &d, &err));
  EXPECT_TRUE(parse_dist("zipf:0.99", &d, &err));
  EXPECT_EQ(d.kind, DistKind::kZipf);
  EXPECT_DOUBLE_EQ(d.zipf_s, 0.99);
  EXPECT_EQ(d.text(), "zipf:0.99");
  EXPECT_TRUE(parse_dist("hotset:5:95", &d, &err));
  EXPECT_EQ(d.text(), "hotset:5:95");
  EXPECT_TRUE(parse_dist("recent:20:0.99", &d, &err));
  EXPECT_EQ(d.kind, DistKind::kRecent);
  EXPECT_EQ(d.text(), "recent:20:0.99");
  for (const char* badspec : {"zipf", "zipf:", "zipf:-1", "zipf:x", "hotset:10", "hotset:0:90", "hotset:10:100",
                              "hotset:a:b", "recent:20", "recent:0:0.99", "recent:101:0.99", "recent:20:0",
                              "pareto", ""}) {
    err.clear();
    EXPECT_FALSE(parse_dist(badspec, &d, &err)) << badspec;
    EXPECT_FALSE(err.empty()) << badspec;
  }
}

}  // namespace
}  // namespace tmc::loadgen
