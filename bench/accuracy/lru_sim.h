// An exact LRU cache of pages with a fixed resident budget, for the policy benchmark's
// reference: replaying libtmc's access sequence through it gives the misses an LRU policy
// would have taken with that many pages resident. O(1) per access: the resident pages form
// a doubly-linked list in arrays indexed by page (most recent at the head), so a replay of
// hundreds of millions of accesses takes seconds.
#pragma once

#include <cstddef>
#include <cstdint>

#include "outside_heap.h"

namespace acc {

class LruSim {
 public:
  // pages pages, at most budget of them resident. The cache starts as the heap does after
  // its fill: every page was just written, in index order, so the last `budget` pages are
  // resident, page pages-1 the most recent.
  void init(size_t pages, size_t budget);

  // One access: true if the page was resident (a hit). A miss makes it resident and, when
  // the budget is full, evicts the least recently used page. With a budget of 0 every
  // access misses.
  bool access(uint32_t page);

  // A new budget from the next access on; a smaller one evicts the least recently used
  // pages down to it at once.
  void set_budget(size_t budget);

  size_t budget() const { return budget_; }
  size_t resident() const { return resident_; }
  bool is_resident(size_t page) const { return in_[page] != 0; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  void unlink(uint32_t p);
  void evict_lru();
  void push_front(uint32_t p);

  size_t budget_ = 0;
  size_t resident_ = 0;
  uint32_t head_ = kNone, tail_ = kNone;  // most and least recently used
  OutsideArray<uint32_t> prev_, next_;
  OutsideArray<uint8_t> in_;
};

}  // namespace acc
