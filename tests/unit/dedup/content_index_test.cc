// dedup::ContentIndex: finds what was inserted, replaces an entry of the same hash, forgets,
// never returns an entry for another hash, drops dead entries when it grows; and
// dedup::Sampler's stride.
#include "dedup/content_index.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

using tmc::dedup::ContentIndex;
using tmc::dedup::Match;
using tmc::dedup::Sampler;
using tmc::pool::Handle;
using tmc::pool::kNoHandle;
using tmc::pool::Pool;

Handle store(Pool& pool, unsigned char byte) {
  unsigned char blob[100];
  memset(blob, byte, sizeof(blob));
  return pool.store(blob, sizeof(blob));
}

uint64_t mix(uint64_t x) {  // distinct, well-spread test hashes
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 31);
}

TEST(ContentIndexTest, EmptyFindsNothing) {
  ContentIndex index;
  Match m;
  EXPECT_FALSE(index.find(42, &m));
  EXPECT_EQ(index.memory_bytes(), 0u);
  index.forget(42, 1);  // harmless
}

TEST(ContentIndexTest, InsertFindReplaceForget) {
  Pool pool;
  ContentIndex index;
  Handle a = store(pool, 1), b = store(pool, 2);
  ASSERT_TRUE(index.insert(7, a, false, pool));
  ASSERT_TRUE(index.insert(8, b, true, pool));
  Match m;
  ASSERT_TRUE(index.find(7, &m));
  EXPECT_EQ(m.handle, a);
  EXPECT_FALSE(m.with_dict);
  ASSERT_TRUE(index.find(8, &m));
  EXPECT_EQ(m.handle, b);
  EXPECT_TRUE(m.with_dict);
  EXPECT_FALSE(index.find(9, &m));
  // One entry per hash: a second blob of the same hash replaces the first.
  Handle c = store(pool, 3);
  ASSERT_TRUE(index.insert(7, c, false, pool));
  ASSERT_TRUE(index.find(7, &m));
  EXPECT_EQ(m.handle, c);
  EXPECT_EQ(index.entries(), 2u);
  // forget() needs both the hash and the handle.
  index.forget(7, a);
  EXPECT_TRUE(index.find(7, &m));
  index.forget(7, c);
  EXPECT_FALSE(index.find(7, &m));
  EXPECT_EQ(index.entries(), 1u);
}

TEST(ContentIndexTest, GrowsAndKeepsLiveEntries) {
  Pool pool;
  ContentIndex index;
  constexpr uint32_t kBlobs = ContentIndex::kInitialBuckets * ContentIndex::kWays * 2;
  std::vector<Handle> handles;
  for (uint32_t i = 0; i < kBlobs; ++i) {
    handles.push_back(store(pool, static_cast<unsigned char>(i)));
    ASSERT_NE(handles.back(), kNoHandle);
    ASSERT_TRUE(index.insert(mix(i), handles.back(), false, pool));
  }
  EXPECT_GT(index.memory_bytes(), size_t{ContentIndex::kInitialBuckets} * 64);
  // Both buckets of an entry may have been full (a lost chance, never a wrong answer):
  // nearly all are found, and none names another hash's blob.
  uint32_t found = 0;
  for (uint32_t i = 0; i < kBlobs; ++i) {
    Match m;
    if (!index.find(mix(i), &m)) continue;
    ++found;
    EXPECT_EQ(m.handle, handles[i]);
  }
  EXPECT_GE(found, kBlobs * 99 / 100);
}

TEST(ContentIndexTest, DeadEntriesMakeRoomInsteadOfGrowth) {
  Pool pool;
  ContentIndex index;
  constexpr uint32_t kLive = 64;
  // Fill the table again and again with blobs that are freed at once: it must not grow
  // for entries whose blobs are gone.
  for (uint32_t round = 0; round < 8; ++round) {
    for (uint32_t i = 0; i < ContentIndex::kInitialBuckets * ContentIndex::kWays / 2; ++i) {
      Handle h = store(pool, 9);
      ASSERT_TRUE(index.insert(mix(round * 1000003ull + i), h, false, pool));
      ASSERT_TRUE(pool.release(h));
    }
  }
  std::vector<Handle> live;
  for (uint32_t i = 0; i < kLive; ++i) {
    live.push_back(store(pool, 5));
    ASSERT_TRUE(index.insert(mix(1ull << 40 | i), live.back(), false, pool));
  }
  // The first table (64 KiB) and the first 64 KiB of tags: handles are reused as blobs
  // are freed.
  EXPECT_EQ(index.memory_bytes(), size_t{ContentIndex::kInitialBuckets} * 64 + (64 << 10));
  for (uint32_t i = 0; i < kLive; ++i) {
    Match m;
    ASSERT_TRUE(index.find(mix(1ull << 40 | i), &m));
    EXPECT_EQ(m.handle, live[i]);
  }
}

TEST(ContentIndexTest, FullBucketOfOneHashValueKeepsTheLatest) {
  // What TMC_TEST_DEDUP_COLLIDE does: every page has the same key.
  Pool pool;
  ContentIndex index;
  Handle last = kNoHandle;
  for (int i = 0; i < 20; ++i) {
    last = store(pool, static_cast<unsigned char>(i));
    ASSERT_TRUE(index.insert(0, last, false, pool));
  }
  Match m;
  ASSERT_TRUE(index.find(0, &m));
  EXPECT_EQ(m.handle, last);
  EXPECT_EQ(index.entries(), 1u);
}

TEST(SamplerTest, SlowsDownWithoutDuplicatesAndSpeedsUpOnOne) {
  Sampler s;
  EXPECT_EQ(s.stride(), 1u);
  // Every page is taken until kPatience pages found nothing.
  for (uint32_t i = 0; i < Sampler::kPatience; ++i) ASSERT_TRUE(s.take());
  EXPECT_EQ(s.stride(), 2u);
  uint32_t taken = 0;
  for (uint32_t i = 0; i < 1000; ++i) taken += s.take();
  EXPECT_EQ(taken, 500u);
  // Long without a duplicate: down to 1 in kMaxStride, no further.
  for (uint32_t i = 0; i < 100 * Sampler::kPatience * Sampler::kMaxStride; ++i) s.take();
  EXPECT_EQ(s.stride(), Sampler::kMaxStride);
  taken = 0;
  for (uint32_t i = 0; i < 64 * Sampler::kMaxStride; ++i) taken += s.take();
  EXPECT_EQ(taken, 64u);
  // A duplicate: every page again.
  s.found();
  EXPECT_EQ(s.stride(), 1u);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(s.take());
}

}  // namespace
