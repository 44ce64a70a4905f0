// The policy benchmark's reference and its sequence: LruSim against a plain list LRU (with a
// fixed and a moving budget), its starting state and the textbook cases, and ZipfPages' permutation, bands and replay.
#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <vector>

#include "lru_sim.h"
#include "zipf_pages.h"

namespace acc {
namespace {

// The obvious LRU: a list, most recent first, searched on every access.
class ListLru {
 public:
  ListLru(size_t pages, size_t budget) : pages_(pages), budget_(std::min(budget, pages)) {
    for (size_t p = pages - budget_; p < pages; ++p) order_.push_front(static_cast<uint32_t>(p));
  }
  void set_budget(size_t budget) {
    budget_ = std::min(budget, pages_);
    while (order_.size() > budget_) order_.pop_back();
  }
  bool access(uint32_t page) {
    auto it = std::find(order_.begin(), order_.end(), page);
    const bool hit = it != order_.end();
    if (hit) order_.erase(it);
    else if (budget_ == 0) return false;
    else if (order_.size() == budget_) order_.pop_back();
    order_.push_front(page);
    return hit;
  }
  bool resident(uint32_t page) const { return std::find(order_.begin(), order_.end(), page) != order_.end(); }

 private:
  size_t pages_;
  size_t budget_;
  std::list<uint32_t> order_;
};

TEST(LruSim, AgreesWithAListLruOnEveryAccess) {
  constexpr size_t kPages = 60;
  for (size_t budget : {0, 1, 2, 7, 30, 59, 60, 80}) {
    LruSim sim;
    sim.init(kPages, budget);
    ListLru ref(kPages, budget);
    Rng rng(budget + 1);
    for (int i = 0; i < 20000; ++i) {
      // Skewed, so that hits and misses both happen at every budget.
      const auto page = static_cast<uint32_t>(rng.below(rng.below(kPages) + 1));
      ASSERT_EQ(sim.access(page), ref.access(page)) << "budget " << budget << " access " << i;
    }
    for (uint32_t p = 0; p < kPages; ++p) EXPECT_EQ(sim.is_resident(p), ref.resident(p)) << "budget " << budget << " page " << p;
    EXPECT_EQ(sim.resident(), std::min(budget, kPages));
  }
}

TEST(LruSim, AgreesWithAListLruWhileItsBudgetMoves) {
  constexpr size_t kPages = 60;
  LruSim sim;
  sim.init(kPages, 40);
  ListLru ref(kPages, 40);
  Rng rng(99);
  for (int i = 0; i < 20000; ++i) {
    if (i % 500 == 0) {
      const size_t budget = rng.below(kPages + 10);  // shrinking, growing, past the page count
      sim.set_budget(budget);
      ref.set_budget(budget);
      ASSERT_LE(sim.resident(), std::min(budget, kPages));  // a smaller budget evicts at once
    }
    const auto page = static_cast<uint32_t>(rng.below(rng.below(kPages) + 1));
    ASSERT_EQ(sim.access(page), ref.access(page)) << "access " << i;
  }
  for (uint32_t p = 0; p < kPages; ++p) EXPECT_EQ(sim.is_resident(p), ref.resident(p)) << p;
}

TEST(LruSim, StartsWithTheLastFilledPagesResident) {
  LruSim sim;
  sim.init(10, 3);
  for (uint32_t p = 0; p < 10; ++p) EXPECT_EQ(sim.is_resident(p), p >= 7) << p;
  // Page 7 is the least recent of them: a miss evicts it first.
  EXPECT_FALSE(sim.access(0));
  EXPECT_FALSE(sim.is_resident(7));
  EXPECT_TRUE(sim.is_resident(8));
}

TEST(LruSim, CyclingOverOneMorePageThanTheBudgetAlwaysMisses) {
  LruSim sim;
  sim.init(100, 10);
  for (int round = 0; round < 5; ++round)
    for (uint32_t p = 0; p < 11; ++p) EXPECT_FALSE(sim.access(p)) << "round " << round << " page " << p;
  // Within the budget, every access after the first round hits.
  LruSim fits;
  fits.init(100, 11);
  for (uint32_t p = 0; p < 11; ++p) fits.access(p);
  for (uint32_t p = 0; p < 11; ++p) EXPECT_TRUE(fits.access(p)) << p;
}

TEST(ZipfPages, RanksArePermutedPages) {
  const ZipfPages z(5000, 0.99, 7);
  std::vector<bool> seen(5000, false);
  size_t in_place = 0;
  for (size_t r = 0; r < 5000; ++r) {
    const uint32_t p = z.page_of_rank(r);
    ASSERT_LT(p, 5000u);
    ASSERT_FALSE(seen[p]) << "page " << p << " has two ranks";
    seen[p] = true;
    EXPECT_EQ(z.rank_of_page(p), r);
    in_place += p == r;
  }
  EXPECT_LT(in_place, 20u);  // scattered: a random permutation fixes about one point
  const ZipfPages other(5000, 0.99, 8);
  size_t same = 0;
  for (size_t r = 0; r < 5000; ++r) same += other.page_of_rank(r) == z.page_of_rank(r);
  EXPECT_LT(same, 20u);  // another seed, another layout
}

TEST(ZipfPages, TheSequenceReplaysFromItsSeed) {
  const ZipfPages z(1000, 0.99, 3);
  Rng a = z.stream(), b = z.stream();
  for (int i = 0; i < 100000; ++i) {
    const Access x = z.next(a), y = z.next(b);
    ASSERT_EQ(x.page, y.page) << i;
    ASSERT_EQ(x.bits, y.bits) << i;
  }
}

TEST(ZipfPages, BandsCoverThePagesAndDrawTheirShare) {
  const ZipfPages z(20000, 0.99, 5);
  size_t pages = 0;
  double share = 0;
  for (int b = 0; b < kBands; ++b) {
    pages += z.band_pages(b);
    share += z.band_access_share(b);
  }
  EXPECT_EQ(pages, 20000u);
  EXPECT_NEAR(share, 1.0, 1e-9);
  for (uint32_t p = 0; p < 20000; ++p) {
    const int b = z.band_of_page(p);
    const double rank_share = static_cast<double>(z.rank_of_page(p)) / 20000;
    EXPECT_GE(rank_share + 1e-12, b == 0 ? 0 : kBandEdges[b - 1]);
    EXPECT_LT(rank_share, kBandEdges[b]);
  }
  std::vector<size_t> count(kBands, 0);
  Rng rng = z.stream();
  constexpr int kDraws = 1000000;
  for (int i = 0; i < kDraws; ++i) ++count[static_cast<size_t>(z.band_of_page(z.next(rng).page))];
  for (int b = 0; b < kBands; ++b)
    EXPECT_NEAR(static_cast<double>(count[static_cast<size_t>(b)]) / kDraws, z.band_access_share(b),
                0.005 + 0.02 * z.band_access_share(b))
        << "band " << b;
}

}  // namespace
}  // namespace acc
