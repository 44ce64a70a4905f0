#include "sites/site_table.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <vector>

namespace tmc::sites {
namespace {

std::unique_ptr<SiteTable> make_table() {
  auto t = std::make_unique<SiteTable>();
  EXPECT_TRUE(t->init());
  return t;
}

uint32_t site_of(SiteTable& t, uintptr_t a, uintptr_t b) {
  uintptr_t frames[2] = {a, b};
  return t.site_for(frames, 2, a * 31 + b);
}

TEST(SiteTableTest, SameStackSameSiteOtherStackOtherSite) {
  auto t = make_table();
  uint32_t s1 = site_of(*t, 0x1000, 0x2000);
  uint32_t s2 = site_of(*t, 0x1000, 0x2000);
  uint32_t s3 = site_of(*t, 0x1000, 0x3000);
  EXPECT_EQ(s1, s2);
  EXPECT_NE(s1, s3);
  EXPECT_NE(s1, kOtherSite);
  // Same hash, other frames: still another site.
  uintptr_t frames[2] = {0x1000, 0x4000};
  uint32_t s4 = t->site_for(frames, 2, 0x1000 * 31 + 0x2000);
  EXPECT_NE(s4, s1);
  EXPECT_EQ(t->site(s4).frames[1], 0x4000u);
}

TEST(SiteTableTest, WeightsAddUpAndFreesCountLifetimes) {
  auto t = make_table();
  uint32_t s = site_of(*t, 0x10, 0x20);
  ASSERT_TRUE(t->add_sample(0x100000, 512, 4.0, s, 1000));
  ASSERT_TRUE(t->add_sample(0x200000, 1024, 2.0, s, 2000));
  EXPECT_EQ(t->site(s).live_samples, 2u);
  EXPECT_DOUBLE_EQ(t->site(s).live_objects, 6.0);
  EXPECT_DOUBLE_EQ(t->site(s).live_bytes, 4.0 * 512 + 2.0 * 1024);
  EXPECT_TRUE(t->remove_sample(0x100000, 11000));
  EXPECT_FALSE(t->remove_sample(0x100000, 12000));  // not a sample any more
  EXPECT_FALSE(t->remove_sample(0, 12000));         // free(NULL)
  EXPECT_DOUBLE_EQ(t->site(s).live_bytes, 2.0 * 1024);
  EXPECT_DOUBLE_EQ(t->site(s).freed_objects, 4.0);
  EXPECT_DOUBLE_EQ(t->site(s).lifetime_ns, 4.0 * 10000);
  EXPECT_TRUE(t->is_valid());
}

TEST(SiteTableTest, ReusedAddressReplacesTheOldSample) {
  auto t = make_table();
  uint32_t a = site_of(*t, 1, 2), b = site_of(*t, 3, 4);
  ASSERT_TRUE(t->add_sample(0x5000, 64, 1.0, a, 0));
  ASSERT_TRUE(t->add_sample(0x5000, 64, 1.0, b, 10));  // its free was not seen
  EXPECT_EQ(t->live_samples(), 1u);
  EXPECT_EQ(t->site(a).live_samples, 0u);
  EXPECT_EQ(t->site(b).live_samples, 1u);
  EXPECT_TRUE(t->is_valid());
}

TEST(SiteTableTest, FiltersSayMaybeForSamplesAndNoForAFreedOne) {
  auto t = make_table();
  uint32_t s = site_of(*t, 1, 2);
  const uintptr_t p = 0x7f0000001230;
  EXPECT_FALSE(t->maybe_sampled(reinterpret_cast<void*>(p)));
  ASSERT_TRUE(t->add_sample(p, 3 * 4096, 1.0, s, 0));
  EXPECT_TRUE(t->maybe_sampled(reinterpret_cast<void*>(p)));
  EXPECT_TRUE(t->maybe_sampled_page(p & ~uintptr_t{4095}));
  EXPECT_TRUE(t->maybe_sampled_page((p & ~uintptr_t{4095}) + 3 * 4096));  // the object's last page
  ASSERT_TRUE(t->remove_sample(p, 1));
  EXPECT_FALSE(t->maybe_sampled(reinterpret_cast<void*>(p)));
  EXPECT_FALSE(t->maybe_sampled_page(p & ~uintptr_t{4095}));
}

// Random adds and removes against a map: the open-addressing table (growth, deletion by
// backward shift) must agree with it at every step.
TEST(SiteTableTest, RandomOperationsMatchAReferenceMap) {
  auto t = make_table();
  std::mt19937_64 rng(42);
  std::map<uintptr_t, uint32_t> live;
  uint32_t sites[8];
  for (uint32_t i = 0; i < 8; ++i) sites[i] = site_of(*t, i + 1, 100);
  for (int step = 0; step < 200000; ++step) {
    uintptr_t p = 0x10000000 + (rng() % 20000) * 16;
    if (rng() % 3 != 0) {
      uint32_t s = sites[rng() % 8];
      ASSERT_TRUE(t->add_sample(p, 48, 1.0, s, step));
      live[p] = s;
    } else {
      EXPECT_EQ(t->remove_sample(p, step), live.erase(p) == 1);
    }
    if (step % 20000 == 0) {
      ASSERT_TRUE(t->is_valid());
    }
  }
  ASSERT_TRUE(t->is_valid());
  EXPECT_EQ(t->live_samples(), live.size());
  std::vector<Sample> copy(live.size() + 10);
  ASSERT_EQ(t->copy_samples(copy.data(), copy.size()), live.size());
  for (size_t i = 0; i < live.size(); ++i) EXPECT_EQ(live.at(copy[i].ptr), copy[i].site);
  for (auto& [p, s] : live) EXPECT_TRUE(t->remove_sample(p, 0));
  EXPECT_EQ(t->live_samples(), 0u);
  for (uint32_t s : sites) EXPECT_EQ(t->site(s).live_bytes, 0.0);
}

TEST(SiteTableTest, FaultsGoToTheSitesOfSamplesOnThePage) {
  auto t = make_table();
  uint32_t a = site_of(*t, 1, 2), b = site_of(*t, 3, 4);
  ASSERT_TRUE(t->add_sample(0x100010, 100, 10.0, a, 0));      // page 0x100000
  ASSERT_TRUE(t->add_sample(0x200ff0, 64, 5.0, b, 0));        // pages 0x200000 and 0x201000
  const uintptr_t faults[] = {0x100000, 0x100000, 0x150000, 0x201000};
  t->attribute_faults(faults, 4);
  EXPECT_DOUBLE_EQ(t->site(a).faults, 20.0);  // two faults, weight 10
  EXPECT_DOUBLE_EQ(t->site(b).faults, 5.0);
}

TEST(SiteTableTest, AFullSiteArrayCountsNewStacksAsOther) {
  auto t = make_table();
  for (uint32_t i = 1; i < kMaxSites; ++i) ASSERT_NE(site_of(*t, i, 7), kOtherSite);
  EXPECT_EQ(site_of(*t, kMaxSites + 5, 7), kOtherSite);
  EXPECT_NE(site_of(*t, 1, 7), kOtherSite);  // known stacks still find their site
  EXPECT_EQ(t->site_count(), kMaxSites);
}

}  // namespace
}  // namespace tmc::sites
