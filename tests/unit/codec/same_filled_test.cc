// Same-filled detection: every position of a differing byte, every kind of word.
#include "codec/same_filled.h"

#include <gtest/gtest.h>

#include <cstring>

#include "codec/codec.h"
#include "sample_pages.h"

namespace tmc::codec {
namespace {

struct Page {
  alignas(64) unsigned char b[kPageSize];
};

void fill_words(Page& p, uint64_t w) {
  for (size_t i = 0; i < kPageSize; i += 8) memcpy(p.b + i, &w, 8);
}

TEST(SameFilledTest, DetectsRepeatedWords) {
  for (uint64_t w : {uint64_t{0}, ~uint64_t{0}, uint64_t{0x2020202020202020},
                     uint64_t{0x00000000ffffffff}, uint64_t{0xfedcba9876543210}}) {
    Page p;
    fill_words(p, w);
    uint64_t got = ~w;
    EXPECT_TRUE(is_same_filled(p.b, &got));
    EXPECT_EQ(got, w);
  }
}

TEST(SameFilledTest, AnyDifferingByteIsSeen) {
  for (uint64_t w : {uint64_t{0}, uint64_t{0x0123456789abcdef}}) {
    for (size_t pos = 0; pos < kPageSize; ++pos) {
      Page p;
      fill_words(p, w);
      p.b[pos] ^= 1;
      uint64_t got = 0x5555;
      ASSERT_FALSE(is_same_filled(p.b, &got)) << pos;
      EXPECT_EQ(got, 0x5555u);  // untouched when the answer is no
    }
  }
}

TEST(SameFilledTest, RepeatedBytePatternsLongerThanAWordAreNot) {
  Page p;
  for (size_t i = 0; i < kPageSize; ++i) p.b[i] = static_cast<unsigned char>(i % 16);
  uint64_t got;
  EXPECT_FALSE(is_same_filled(p.b, &got));
}

TEST(SameFilledTest, RealisticPagesAreNot) {
  for (auto kind : testing::kAllSampleKinds) {
    Page p;
    testing::make_sample_page(kind, 5, p.b);
    uint64_t got;
    EXPECT_FALSE(is_same_filled(p.b, &got));
  }
}

TEST(SameFilledTest, FillIsTheInverse) {
  for (uint64_t w : {uint64_t{0}, uint64_t{0xa5a5a5a5a5a5a5a5}, uint64_t{0x1122334455667788}}) {
    Page p, q;
    memset(p.b, 0x77, sizeof(p.b));
    PageCodec::fill(p.b, w);
    fill_words(q, w);
    EXPECT_EQ(0, memcmp(p.b, q.b, kPageSize));
    uint64_t got;
    EXPECT_TRUE(is_same_filled(p.b, &got));
    EXPECT_EQ(got, w);
  }
}

}  // namespace
}  // namespace tmc::codec
