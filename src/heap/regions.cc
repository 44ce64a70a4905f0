// See regions.h.
#include "heap/regions.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "base/log.h"
#include "platform/mm.h"


namespace tmc::heap {
namespace {
constexpr uintptr_t kRegionAlign = uintptr_t{2} << 20;  // whole huge pages per region
constexpr uintptr_t kPage = 4096;

uintptr_t align_up(uintptr_t v, uintptr_t a) { return (v + a - 1) & ~(a - 1); }

// Read-write MAP_NORESERVE space that is never faulted in up front. After
// mlockall(MCL_FUTURE) the kernel locks every new mapping and faults it in whole, which for
// a region would be a GiB of zeros; it does not fault in an inaccessible one. So the space
// is mapped inaccessible, unlocked, then opened: libtmc locks what it hands out instead
// (extent_hooks.h, set_lock_new_extents).
void* map_reserved(size_t size) {
  void* p = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return MAP_FAILED;
  munlock(p, size);  // only under mlockall(MCL_FUTURE) is there anything to undo
  if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0) {
    munmap(p, size);
    return MAP_FAILED;
  }
  return p;
}

// Makes [base, end) inaccessible, or accessible and unlocked again (see with_unused_hidden).
void set_range_accessible(uintptr_t base, uintptr_t end, bool accessible) {
  if (base >= end) return;
  void* p = reinterpret_cast<void*>(base);
  if (accessible) munlock(p, end - base);
  if (mprotect(p, end - base, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) != 0)
    log::warn().str("mprotect of unused heap space failed (").str(strerrorname_np(errno))
        .str(accessible ? "); it stays inaccessible" : "); mlockall will fault it in").flush();
}
}  // namespace

void RegionSet::set_region_size(size_t region_size) {
  SpinLockGuard guard(lock_);
  region_size_ = align_up(region_size, kRegionAlign);
}

void RegionSet::set_mergeable(bool mergeable) {
  SpinLockGuard guard(lock_);
  mergeable_ = mergeable;
}

int RegionSet::find_region(uintptr_t addr) const {
  int n = count_.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i)
    if (addr >= regions_[i].base && addr < regions_[i].end) return i;
  return -1;
}

bool RegionSet::contains(const void* addr, size_t size) const {
  auto a = reinterpret_cast<uintptr_t>(addr);
  int i = find_region(a);
  return i >= 0 && size <= regions_[i].end - a;
}

bool RegionSet::overlaps(const void* addr, size_t size) const {
  auto a = reinterpret_cast<uintptr_t>(addr);
  uintptr_t e = size > UINTPTR_MAX - a ? UINTPTR_MAX : a + size;
  int n = count_.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i)
    if (a < regions_[i].end && regions_[i].base < e) return true;
  return false;
}

bool RegionSet::same_region(const void* a, const void* b) const {
  int i = find_region(reinterpret_cast<uintptr_t>(a));
  return i >= 0 && i == find_region(reinterpret_cast<uintptr_t>(b));
}

bool RegionSet::add_region(size_t min_size, size_t alignment, RegionKind kind) {
  int n = count_.load(std::memory_order_relaxed);
  if (n == kMaxRegions) {
    log::warn().str("managed regions exhausted (").u64(kMaxRegions).str("); raise TMC_REGION_SIZE").flush();
    return false;
  }
  // Reserve extra so the region can start on the requested alignment.
  uintptr_t extra = alignment > kRegionAlign ? alignment : kRegionAlign;
  size_t size = align_up(min_size > region_size_ ? min_size : region_size_, kRegionAlign);
  void* p = map_reserved(size + extra);
  if (p == MAP_FAILED) return false;
  auto raw = reinterpret_cast<uintptr_t>(p);
  uintptr_t base = align_up(raw, extra);
  // Trim the unaligned head and tail so the region is exactly [base, base+size).
  if (base > raw) munmap(p, base - raw);
  uintptr_t tail = raw + size + extra - (base + size);
  if (tail) munmap(reinterpret_cast<void*>(base + size), tail);
  // Name the mapping so /proc/PID/maps shows where the managed heap is (Linux 5.17+;
  // harmless failure on kernels without CONFIG_ANON_VMA_NAME).
  platform::name_mapping(reinterpret_cast<void*>(base), size, "tmc-heap");
  // The flag stays on the region's mappings through later mprotect splits, and a forked
  // child inherits it. Pages KSM merges are mapped by several page-table entries: the
  // reclaimer skips them as shared (busy_skips) until a write gives a page its own copy.
  if (mergeable_ && platform::raw_madvise(reinterpret_cast<void*>(base), size, MADV_MERGEABLE) != 0 && !ksm_warned_) {
    ksm_warned_ = true;
    log::warn().str("TMC_KSM: madvise(MADV_MERGEABLE) failed (").str(strerrorname_np(errno))
        .str("); the heap is not offered to KSM").flush();
  }
  // The page table: libtmc metadata, never managed, so never evicted.
  size_t table_bytes = size / kPageSize * sizeof(PageEntry) + size / kBlockSize;
  void* table = map_reserved(table_bytes);
  if (table == MAP_FAILED) {
    munmap(reinterpret_cast<void*>(base), size);
    return false;
  }
  Region& r = regions_[n];
  r.base = base;
  r.end = base + size;
  r.cursor = base;
  r.kind = kind;
  r.frontier.store(base, std::memory_order_relaxed);
  r.pages = static_cast<PageEntry*>(table);
  r.blocks = reinterpret_cast<std::atomic<uint8_t>*>(static_cast<char*>(table) + size / kPageSize * sizeof(PageEntry));
  reserved_ += size;
  count_.store(n + 1, std::memory_order_release);
  return true;
}

void* RegionSet::take_from_cursor(uintptr_t want, size_t size, size_t alignment, RegionKind kind) {
  int n = count_.load(std::memory_order_relaxed);
  for (int i = n - 1; i >= 0; --i) {
    Region& r = regions_[i];
    if (r.kind != kind) continue;
    uintptr_t start = want ? want : align_up(r.cursor, alignment);
    if (want && want != r.cursor) continue;
    if (start > r.end || size > r.end - start) continue;
    // Alignment padding stays usable for later, smaller requests.
    if (start > r.cursor) add_free_range(r.cursor, start);
    r.cursor = start + size;
    r.frontier.store(r.cursor, std::memory_order_release);
    return reinterpret_cast<void*>(start);
  }
  return nullptr;
}

void* RegionSet::take_from_free_list(uintptr_t want, size_t size, size_t alignment, RegionKind kind) {
  for (int i = 0; i < free_count_; ++i) {
    FreeRange f = free_[i];
    if (regions_[find_region(f.base)].kind != kind) continue;
    uintptr_t start = want ? want : align_up(f.base, alignment);
    if (start < f.base || start > f.end || size > f.end - start) continue;
    // Remove the range and give back what is left on either side.
    free_[i] = free_[--free_count_];
    if (start > f.base) add_free_range(f.base, start);
    if (start + size < f.end) add_free_range(start + size, f.end);
    return reinterpret_cast<void*>(start);
  }
  return nullptr;
}

void RegionSet::add_free_range(uintptr_t base, uintptr_t end) {
  if (base >= end) return;
  // Merge with a neighbour when possible to keep the list short.
  for (int i = 0; i < free_count_; ++i) {
    if (free_[i].end == base && same_region(reinterpret_cast<void*>(free_[i].base), reinterpret_cast<void*>(base))) {
      free_[i].end = end;
      return;
    }
    if (free_[i].base == end && same_region(reinterpret_cast<void*>(base), reinterpret_cast<void*>(end))) {
      free_[i].base = base;
      return;
    }
  }
  // A full list only costs address space: the range stays reserved but unused.
  if (free_count_ < kMaxFreeRanges) free_[free_count_++] = FreeRange{base, end};
}

void* RegionSet::allocate(void* want, size_t size, size_t alignment, RegionKind kind) {
  if (alignment < kPage) alignment = kPage;
  if (size == 0 || (alignment & (alignment - 1)) != 0) return nullptr;
  size = align_up(size, kPage);
  auto w = reinterpret_cast<uintptr_t>(want);
  SpinLockGuard guard(lock_);
  void* p = take_from_free_list(w, size, alignment, kind);
  if (p == nullptr) p = take_from_cursor(w, size, alignment, kind);
  if (p == nullptr && w == 0 && add_region(size, alignment, kind)) p = take_from_cursor(0, size, alignment, kind);
  if (p != nullptr) handed_ += size;
  return p;
}

void RegionSet::release(void* addr, size_t size) {
  auto a = reinterpret_cast<uintptr_t>(addr);
  size = align_up(size, kPage);
  // Dropped pages read as zero again, which allocate() promises.
  platform::raw_madvise(addr, size, MADV_DONTNEED);
  SpinLockGuard guard(lock_);
  handed_ -= size;
  add_free_range(a, a + size);
}

RegionTotals RegionSet::totals() const {
  SpinLockGuard guard(lock_);
  return RegionTotals{static_cast<uint64_t>(count_.load(std::memory_order_relaxed)), reserved_, handed_};
}

RegionView RegionSet::view(int i) const {
  const Region& r = regions_[i];
  return RegionView{r.base, r.end, r.frontier.load(std::memory_order_acquire), r.pages, r.blocks};
}

PageEntry* RegionSet::page_entry(uintptr_t addr) const {
  int i = find_region(addr);
  if (i < 0) return nullptr;
  return &regions_[i].pages[(addr - regions_[i].base) / kPageSize];
}

void RegionSet::reset_lock_after_fork() { lock_.reset_after_fork(); }

void RegionSet::set_unused_accessible(bool accessible) {
  int n = count_.load(std::memory_order_relaxed);
  for (int i = 0; i < n; ++i) set_range_accessible(regions_[i].cursor, regions_[i].end, accessible);
  for (int i = 0; i < free_count_; ++i) set_range_accessible(free_[i].base, free_[i].end, accessible);
}

}  // namespace tmc::heap
