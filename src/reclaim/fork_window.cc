#include "reclaim/fork_window.h"

#include <sys/mman.h>

#include "platform/mm.h"

namespace tmc::reclaim {

using heap::PageState;
using heap::PageWord;

bool ForkWindowLog::init() {
  if (changes_ != nullptr) return true;
  // Reserved without commitment: a window touches only the pages it fills.
  void* p = mmap(nullptr, kCapacity * sizeof(Change), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  platform::name_mapping(p, kCapacity * sizeof(Change), "tmc-fork-window");
  changes_ = static_cast<Change*>(p);
  return true;
}

bool ForkWindowLog::append(heap::PageEntry* entry, PageWord old) {
  uint32_t n = count_.load(std::memory_order_relaxed);
  if (changes_ == nullptr || n == kCapacity) {
    overflowed_.fetch_add(1, std::memory_order_relaxed);
    overflowed_now_.store(true, std::memory_order_release);
    return false;
  }
  changes_[n] = Change{entry, old.raw};
  // The count is published after the change it covers: a copy of this memory taken at any
  // instant (the fork) holds whole entries only.
  count_.store(n + 1, std::memory_order_release);
  return true;
}

bool ForkWindowLog::old_word(const heap::PageEntry* entry, PageWord* out) const {
  uint32_t n = count_.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n; ++i) {
    if (changes_[i].entry == entry) {
      out->raw = changes_[i].old_word;
      return true;
    }
  }
  return false;
}

uint32_t ForkWindowLog::settle(pool::Pool& pool) {
  uint32_t n = count_.load(std::memory_order_acquire);
  uint32_t released = 0;
  for (uint32_t i = 0; i < n; ++i) {
    PageWord old{changes_[i].old_word};
    if (old.state() != PageState::kCompressed) continue;
    // Still the old word: the change came after this process's copy was taken (a child's
    // log copy holds changes its page table may not have seen yet); the blob is in use.
    if (changes_[i].entry->load().raw == old.raw) continue;
    pool.release(old.payload());
    ++released;
  }
  count_.store(0, std::memory_order_release);
  overflowed_now_.store(false, std::memory_order_release);
  return released;
}

}  // namespace tmc::reclaim
