// Managed regions: the address space that holds the application's heap.
//
// libtmc reserves address space in large regions (TMC_REGION_SIZE, 1 GiB by default) with
// MAP_NORESERVE, so untouched space costs nothing, and hands it to jemalloc through the
// extent hooks (extent_hooks.h). Everything the application allocates therefore lies in
// a few known ranges: later layers register these ranges with userfaultfd and keep a page
// table per region. Regions are never unmapped while the process runs, so a lookup
// (contains) needs no lock.
//
// Ranges jemalloc gives back (arena destruction) are purged and kept on a free list for
// reuse; jemalloc's own retained memory never comes back (opt.retain), so the list is short.
#pragma once

#include <cstddef>
#include <cstdint>

#include <atomic>

#include "base/spin_lock.h"
#include "heap/page_state.h"

namespace tmc::heap {

// What the eviction engine sees of one region. The page table and block flags are made
// with the region (MAP_NORESERVE: only entries that are used cost memory) and live as long.
struct RegionView {
  uintptr_t base;
  uintptr_t end;
  uintptr_t frontier;             // [base, frontier) has been handed to jemalloc at least once
  PageEntry* pages;               // one entry per OS page
  std::atomic<uint8_t>* blocks;   // per kBlockSize block: the reclaimer's flags (reclaimer.cc)
};

struct RegionTotals {
  uint64_t regions;   // regions reserved
  uint64_t reserved;  // bytes of address space reserved
  uint64_t handed;    // bytes currently handed to jemalloc
};

// Ordinary regions hold every arena's extents but the cold arena's, which has regions of
// its own so that its objects are known by address (extent_hooks.h, create_cold_arena).
enum class RegionKind : uint8_t { kOrdinary, kCold };

class RegionSet {
 public:
  static constexpr int kMaxRegions = 1024;
  static constexpr int kMaxFreeRanges = 256;

  // region_size: how much address space to reserve at a time (rounded up to 2 MiB).
  explicit constexpr RegionSet(size_t region_size = size_t{1} << 30) : region_size_(region_size) {}

  void set_region_size(size_t region_size);
  // TMC_KSM: regions reserved from now on are offered to the kernel's KSM (MADV_MERGEABLE).
  void set_mergeable(bool mergeable);

  // Returns `size` bytes aligned to `alignment` (a power of two, at least a page) from a
  // region of the given kind, or nullptr. If `want` is not null, returns exactly `want` or
  // nullptr. The memory reads as zero.
  void* allocate(void* want, size_t size, size_t alignment, RegionKind kind = RegionKind::kOrdinary);

  // Gives a range back: its pages are dropped (MADV_DONTNEED) and the range reused.
  void release(void* addr, size_t size);

  // True if [addr, addr+size) lies inside one managed region. Lock-free.
  bool contains(const void* addr, size_t size = 1) const;
  // True if [addr, addr+size) shares any byte with a region. Lock-free.
  bool overlaps(const void* addr, size_t size) const;
  // True if both ranges lie in the same region (jemalloc may merge only those).
  bool same_region(const void* a, const void* b) const;

  RegionTotals totals() const;

  int region_count() const { return count_.load(std::memory_order_acquire); }
  RegionView view(int i) const;
  // The page entry for addr, or nullptr if addr is not managed. Lock-free.
  PageEntry* page_entry(uintptr_t addr) const;

  // After fork the child is single-threaded; the lock may have been held by a vanished thread.
  void reset_lock_after_fork();

  // Runs fn() with the address space jemalloc does not hold (never handed out, or given
  // back) made inaccessible, and region growth waiting meanwhile. mlockall(MCL_CURRENT)
  // runs inside it (runtime/memory_lock.h): the kernel locks and faults in every page of an
  // accessible mapping, so a whole reserved region (a GiB) would become resident; an
  // inaccessible range is locked without being faulted in. Afterwards those ranges are
  // unlocked and accessible again. Returns what fn returns.
  template <typename F>
  auto with_unused_hidden(F fn) {
    SpinLockGuard guard(lock_);
    set_unused_accessible(false);
    auto result = fn();
    set_unused_accessible(true);
    return result;
  }

 private:
  struct Region {
    uintptr_t base;
    uintptr_t end;
    uintptr_t cursor;  // space below cursor has been handed out at least once
    std::atomic<uintptr_t> frontier;  // cursor, published for lock-free readers
    PageEntry* pages;
    std::atomic<uint8_t>* blocks;
    RegionKind kind;
  };
  struct FreeRange {
    uintptr_t base;
    uintptr_t end;
  };

  int find_region(uintptr_t addr) const;
  void* take_from_free_list(uintptr_t want, size_t size, size_t alignment, RegionKind kind);
  void* take_from_cursor(uintptr_t want, size_t size, size_t alignment, RegionKind kind);
  bool add_region(size_t min_size, size_t alignment, RegionKind kind);
  void add_free_range(uintptr_t base, uintptr_t end);
  void set_unused_accessible(bool accessible);

  size_t region_size_;
  bool mergeable_ = false;
  bool ksm_warned_ = false;
  // lock_ guards everything below; regions_[0..count_) never change once published
  // (count_ is stored with release ordering), so contains() reads them without the lock.
  mutable SpinLock lock_;
  Region regions_[kMaxRegions] = {};
  std::atomic<int> count_{0};
  FreeRange free_[kMaxFreeRanges] = {};
  int free_count_ = 0;
  uint64_t handed_ = 0;
  uint64_t reserved_ = 0;
};

// A sweep over every managed page, region by region, resuming where the last call stopped:
// the background walkers (reclaim/deep.h, reclaim/file_tier.h) look at a bounded number of
// pages per step. Used by one thread.
class PageSweep {
 public:
  // The next page: its entry and address. False once the sweep has passed the last page;
  // the next call starts again from the first.
  bool next(const RegionSet& regions, PageEntry** entry, uintptr_t* page) {
    for (;;) {
      if (region_ >= regions.region_count()) {
        restart();
        return false;
      }
      const RegionView v = regions.view(region_);
      if (index_ < (v.frontier - v.base) / kPageSize) {
        *entry = &v.pages[index_];
        *page = v.base + index_ * kPageSize;
        ++index_;
        return true;
      }
      ++region_;
      index_ = 0;
    }
  }
  void restart() {
    region_ = 0;
    index_ = 0;
  }

 private:
  int region_ = 0;
  uint64_t index_ = 0;
};

}  // namespace tmc::heap
