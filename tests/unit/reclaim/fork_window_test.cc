// ForkWindowLog: the old word of a changed page is found, and settle() releases exactly the
// blobs of pages that no longer hold their logged word, in the process that settles.
#include "reclaim/fork_window.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tmc::reclaim {
namespace {

using heap::PageEntry;
using heap::PageState;
using heap::PageWord;

PageWord compressed(pool::Handle h) { return PageWord::make(PageState::kCompressed, 7, h); }
PageWord resident() { return PageWord::make(PageState::kResident, 9, 0); }

class ForkWindowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(log_.init());
    char blob[100];
    memset(blob, 'x', sizeof(blob));
    for (auto& h : handles_) {
      h = pool_.store(blob, sizeof(blob));
      ASSERT_NE(h, pool::kNoHandle);
    }
    for (int i = 0; i < 3; ++i) entries_[i].word.store(compressed(handles_[i]).raw);
  }
  pool::Pool pool_;
  ForkWindowLog log_;
  pool::Handle handles_[3];
  PageEntry entries_[3] = {};
};

TEST_F(ForkWindowTest, OldWordOfAChangedPage) {
  PageWord w;
  EXPECT_FALSE(log_.old_word(&entries_[0], &w));
  ASSERT_TRUE(log_.append(&entries_[1], compressed(handles_[1])));
  entries_[1].word.store(resident().raw);
  ASSERT_TRUE(log_.old_word(&entries_[1], &w));
  EXPECT_EQ(w.raw, compressed(handles_[1]).raw);
  EXPECT_FALSE(log_.old_word(&entries_[0], &w));
}

// The parent: every logged change happened, every old blob goes.
TEST_F(ForkWindowTest, SettleReleasesBlobsOfChangedPages) {
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(log_.append(&entries_[i], compressed(handles_[i])));
    entries_[i].word.store(resident().raw);
  }
  EXPECT_EQ(log_.settle(pool_), 2u);
  EXPECT_EQ(pool_.ref_count(handles_[0]), 0u);
  EXPECT_EQ(pool_.ref_count(handles_[1]), 0u);
  EXPECT_EQ(pool_.ref_count(handles_[2]), 1u);
  EXPECT_EQ(log_.size(), 0u);
  EXPECT_TRUE(pool_.is_valid());
}

// A child whose copy was taken between the append and the change: the page still holds the
// old word there, so its blob stays.
TEST_F(ForkWindowTest, SettleKeepsBlobsOfPagesThatStillHoldTheOldWord) {
  ASSERT_TRUE(log_.append(&entries_[0], compressed(handles_[0])));
  ASSERT_TRUE(log_.append(&entries_[1], compressed(handles_[1])));
  entries_[1].word.store(resident().raw);  // only the second change reached this copy
  EXPECT_EQ(log_.settle(pool_), 1u);
  EXPECT_EQ(pool_.ref_count(handles_[0]), 1u);
  EXPECT_EQ(pool_.ref_count(handles_[1]), 0u);
}

// SameFilled and other states are logged for the child's lookups; they hold no blob.
TEST_F(ForkWindowTest, SettleIgnoresStatesWithoutBlobs) {
  PageEntry e{};
  PageWord same = PageWord::make(PageState::kSameFilled, 3, 0);
  e.word.store(same.raw);
  ASSERT_TRUE(log_.append(&e, same));
  e.word.store(resident().raw);
  EXPECT_EQ(log_.settle(pool_), 0u);
  EXPECT_TRUE(pool_.is_valid());
}

}  // namespace
}  // namespace tmc::reclaim
