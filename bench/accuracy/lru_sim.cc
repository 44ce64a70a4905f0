#include "lru_sim.h"

namespace acc {

void LruSim::init(size_t pages, size_t budget) {
  budget_ = budget < pages ? budget : pages;
  resident_ = 0;
  head_ = tail_ = kNone;
  prev_.allocate(pages);
  next_.allocate(pages);
  in_.allocate(pages);
  for (size_t p = pages - budget_; p < pages; ++p) {
    push_front(static_cast<uint32_t>(p));
    in_[p] = 1;
    ++resident_;
  }
}

void LruSim::unlink(uint32_t p) {
  const uint32_t a = prev_[p], b = next_[p];
  if (a != kNone) next_[a] = b;
  else head_ = b;
  if (b != kNone) prev_[b] = a;
  else tail_ = a;
}

void LruSim::push_front(uint32_t p) {
  prev_[p] = kNone;
  next_[p] = head_;
  if (head_ != kNone) prev_[head_] = p;
  head_ = p;
  if (tail_ == kNone) tail_ = p;
}

void LruSim::evict_lru() {
  const uint32_t victim = tail_;
  unlink(victim);
  in_[victim] = 0;
  --resident_;
}

void LruSim::set_budget(size_t budget) {
  budget_ = budget < prev_.size() ? budget : prev_.size();
  while (resident_ > budget_) evict_lru();
}

bool LruSim::access(uint32_t page) {
  if (in_[page]) {
    if (head_ != page) {
      unlink(page);
      push_front(page);
    }
    return true;
  }
  if (budget_ == 0) return false;
  if (resident_ == budget_) evict_lru();
  push_front(page);
  in_[page] = 1;
  ++resident_;
  return false;
}

}  // namespace acc
