// See extent_hooks.h. jemalloc's hook contract: every hook returns false on success and
// true to refuse (jemalloc then falls back, e.g. retains a range it could not unmap).
#include "heap/extent_hooks.h"

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <string.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdio>

#include "base/log.h"
#include "platform/mm.h"

namespace tmc::heap {
namespace {

RegionSet* g_regions = nullptr;

std::atomic<LockNewExtents> g_lock_new_extents{LockNewExtents::kNo};

// A locked range that could not be locked (RLIMIT_MEMLOCK) is handed out all the same, as
// jemalloc's own memory would be: said once.
void lock_new_extent(void* p, size_t size, LockNewExtents mode) {
  if (mlock2(p, size, mode == LockNewExtents::kLockOnFault ? MLOCK_ONFAULT : 0) == 0) return;
  static std::atomic<bool> said{false};
  if (!said.exchange(true))
    log::warn().str("cannot lock new heap memory under mlockall(MCL_FUTURE) (").str(strerrorname_np(errno))
        .str("); it is used unlocked").flush();
}

void* hook_alloc(extent_hooks_t*, void* new_addr, size_t size, size_t alignment, bool* zero,
                 bool* commit, unsigned) {
  void* p = g_regions->allocate(new_addr, size, alignment);
  if (p != nullptr) {
    *zero = true;  // region memory is fresh or was purged before reuse
    *commit = true;
    LockNewExtents lock = g_lock_new_extents.load(std::memory_order_acquire);
    if (lock != LockNewExtents::kNo) lock_new_extent(p, size, lock);
  }
  return p;
}

std::atomic<uintptr_t> g_cold_hi{0};

// The cold arena's: the same, from cold regions, and the span of its extents grows.
void* hook_alloc_cold(extent_hooks_t*, void* new_addr, size_t size, size_t alignment, bool* zero,
                      bool* commit, unsigned) {
  void* p = g_regions->allocate(new_addr, size, alignment, RegionKind::kCold);
  if (p == nullptr) return nullptr;
  *zero = true;
  *commit = true;
  LockNewExtents lock = g_lock_new_extents.load(std::memory_order_acquire);
  if (lock != LockNewExtents::kNo) lock_new_extent(p, size, lock);
  // jemalloc calls the cold arena's hooks under that arena's grow mutex: one writer.
  auto lo = reinterpret_cast<uintptr_t>(p), hi = lo + size;
  uintptr_t old_lo = g_cold_lo.load(std::memory_order_relaxed);
  if (hi > g_cold_hi.load(std::memory_order_relaxed)) g_cold_hi.store(hi, std::memory_order_relaxed);
  if (lo < old_lo) g_cold_lo.store(lo, std::memory_order_relaxed);
  g_cold_size.store(g_cold_hi.load(std::memory_order_relaxed) - g_cold_lo.load(std::memory_order_relaxed),
                    std::memory_order_relaxed);
  return p;
}

// Refusing makes jemalloc keep the range as "retained" and reuse it later; that is
// jemalloc's own default on Linux (opt.retain) and keeps regions dense.
bool hook_dalloc(extent_hooks_t*, void*, size_t, bool, unsigned) { return true; }

std::atomic<void (*)(void*, size_t)> g_before_purge{nullptr};
std::atomic<void (*)()> g_after_purge{nullptr};

// Runs f(), which purges [addr, addr+len), between the purge guard's two calls.
template <typename F>
auto with_purge_guard(void* addr, size_t len, F f) {
  void (*before)(void*, size_t) = g_before_purge.load(std::memory_order_acquire);
  void (*after)() = g_after_purge.load(std::memory_order_acquire);
  if (before != nullptr) before(addr, len);
  auto result = f();
  if (after != nullptr) after();
  return result;
}

void hook_destroy(extent_hooks_t*, void* addr, size_t size, bool, unsigned) {
  if (g_regions->contains(addr, size)) {
    with_purge_guard(addr, size, [&] {  // release() purges the range
      g_regions->release(addr, size);
      return 0;
    });
  } else {
    munmap(addr, size);  // an extent jemalloc mapped before our hooks were installed
  }
}

// Memory is always committed (Linux overcommits); decommit is refused so jemalloc purges.
bool hook_commit(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) { return false; }
bool hook_decommit(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) { return true; }

bool purge(void* addr, size_t offset, size_t length, int advice) {
  return guarded_madvise(static_cast<char*>(addr) + offset, length, advice) != 0;
}

bool hook_purge_lazy(extent_hooks_t*, void* addr, size_t, size_t offset, size_t length, unsigned) {
  return purge(addr, offset, length, MADV_FREE);
}

bool hook_purge_forced(extent_hooks_t*, void* addr, size_t, size_t offset, size_t length, unsigned) {
  return purge(addr, offset, length, MADV_DONTNEED);
}

bool hook_split(extent_hooks_t*, void*, size_t, size_t, size_t, bool, unsigned) { return false; }

// Two extents may become one only inside one region: a merged extent must never straddle
// a managed and an unmanaged mapping.
bool hook_merge(extent_hooks_t*, void* a, size_t, void* b, size_t, bool, unsigned) {
  return !g_regions->same_region(a, b);
}

extent_hooks_t g_hooks = {
    hook_alloc,      hook_dalloc,       hook_destroy, hook_commit, hook_decommit,
    hook_purge_lazy, hook_purge_forced, hook_split,   hook_merge,
};
extent_hooks_t g_cold_hooks = {
    hook_alloc_cold, hook_dalloc,       hook_destroy, hook_commit, hook_decommit,
    hook_purge_lazy, hook_purge_forced, hook_split,   hook_merge,
};

// Bytes of pre-hook space pinned by drain_unmanaged_space (see below); they are jemalloc
// allocations nobody uses, so the heap_bytes stat leaves them out.
size_t g_pinned_bytes = 0;

// jemalloc purges its huge-request arena at once when it creates that arena itself;
// creating it early (above) must keep that behaviour.
void purge_huge_arena_eagerly(unsigned arena) {
  ssize_t zero = 0;
  char name[64];
  snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", arena);
  mallctl(name, nullptr, nullptr, &zero, sizeof(zero));
  snprintf(name, sizeof(name), "arena.%u.muzzy_decay_ms", arena);
  mallctl(name, nullptr, nullptr, &zero, sizeof(zero));
}

// The first managed allocation of each drain step. They are held until draining ends:
// freed at once, they would go to jemalloc's dirty cache and satisfy the next step's
// requests from managed memory before the unmanaged leftovers are reached.
struct Sentinels {
  void* ptr[256];
  int flags[256];
  int count = 0;
};

// Allocates `size` with `flags` until jemalloc hands out managed memory, keeping (pinning)
// every unmanaged result. Returns how many bytes were pinned.
size_t pin_until_managed(size_t size, int flags, int max_steps, Sentinels* sentinels) {
  size_t pinned = 0;
  for (int i = 0; i < max_steps; ++i) {
    void* p = mallocx(size, flags);
    if (p == nullptr) break;
    if (g_regions->contains(p)) {
      if (sentinels->count < 256) {
        sentinels->ptr[sentinels->count] = p;
        sentinels->flags[sentinels->count++] = flags;
      } else {
        dallocx(p, flags);
      }
      break;
    }
    pinned += sallocx(p, flags);
  }
  g_pinned_bytes += pinned;
  return pinned;
}

// jemalloc maps arena 0's first extent (about 2 MiB) with its default hooks while it
// initialises, before libtmc can install its own, and keeps the unused part for later
// allocations. Allocating that leftover space once, and never touching or freeing it,
// makes every later application allocation come from managed regions: large requests
// take the contiguous space, then requests of each small size class take the pages left
// in between (a class's slab is filled until jemalloc opens a managed one), repeated
// until a pass finds nothing.
void drain_unmanaged_space_steps(unsigned arena) {
  int flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
  Sentinels sentinels;
  pin_until_managed(16 * 1024, flags, 8192, &sentinels);
  unsigned nbins = 0;
  size_t len = sizeof(nbins);
  if (mallctl("arenas.nbins", &nbins, &len, nullptr, 0) == 0) {
    for (int pass = 0; pass < 8; ++pass) {
      size_t pinned = 0;
      for (unsigned bin = 0; bin < nbins; ++bin) {
        char name[64];
        size_t size = 0;
        len = sizeof(size);
        snprintf(name, sizeof(name), "arenas.bin.%u.size", bin);
        if (mallctl(name, &size, &len, nullptr, 0) == 0) pinned += pin_until_managed(size, flags, 1 << 16, &sentinels);
      }
      if (pinned == 0) break;
    }
  }
  for (int i = 0; i < sentinels.count; ++i) dallocx(sentinels.ptr[i], sentinels.flags[i]);
}

void drain_unmanaged_space(unsigned arena) {
  size_t before = g_pinned_bytes;
  drain_unmanaged_space_steps(arena);
  if (g_pinned_bytes != before)
    log::debug().str("pinned ").u64(g_pinned_bytes - before).str(" bytes of arena ").u64(arena)
        .str("'s pre-hook space").flush();
}

}  // namespace

std::atomic<uintptr_t> g_cold_lo{UINTPTR_MAX}, g_cold_size{0};

int create_cold_arena() {
  unsigned index = 0;
  size_t len = sizeof(index);
  // No hooks given: the new arena's metadata base is default-mapped (see the header).
  if (mallctl("arenas.create", &index, &len, nullptr, 0) != 0) {
    log::warn().str("jemalloc could not create the cold arena; TMC_SEGREGATE is off").flush();
    return -1;
  }
  char name[64];
  snprintf(name, sizeof(name), "arena.%u.extent_hooks", index);
  extent_hooks_t* hooks = &g_cold_hooks;
  if (mallctl(name, nullptr, nullptr, &hooks, sizeof(hooks)) != 0) {
    log::warn().str("jemalloc refused extent hooks for the cold arena; TMC_SEGREGATE is off").flush();
    return -1;
  }
  return static_cast<int>(index);
}

size_t pinned_unmanaged_bytes() { return g_pinned_bytes; }

RegionSet* managed_regions() { return g_regions; }

void set_lock_new_extents(LockNewExtents mode) { g_lock_new_extents.store(mode, std::memory_order_release); }

int guarded_madvise(void* addr, size_t length, int advice) {
  if (g_regions == nullptr || !g_regions->overlaps(addr, length)) return platform::raw_madvise(addr, length, advice);
  return with_purge_guard(addr, length, [&] { return platform::raw_madvise(addr, length, advice); });
}

void set_purge_guard(void (*before)(void*, size_t), void (*after)()) {
  g_after_purge.store(after, std::memory_order_release);
  g_before_purge.store(before, std::memory_order_release);
}

bool install_extent_hooks(RegionSet* regions) {
  g_regions = regions;
  // arenas.narenas counts the automatic arenas plus jemalloc's arena for huge requests
  // (opt.oversize_threshold), which it would otherwise create later with default hooks.
  unsigned narenas = 0, nauto = 0;
  size_t len = sizeof(narenas);
  mallctl("opt.narenas", &nauto, &len, nullptr, 0);
  len = sizeof(narenas);
  if (mallctl("arenas.narenas", &narenas, &len, nullptr, 0) != 0 || narenas == 0) {
    log::warn().str("jemalloc did not report its arenas; running as a plain allocator").flush();
    return false;
  }
  unsigned original = 0;
  len = sizeof(original);
  mallctl("thread.arena", &original, &len, nullptr, 0);
  extent_hooks_t* hooks = &g_hooks;
  for (unsigned i = 0; i < narenas; ++i) {
    // Only arenas jemalloc created before now (arena 0, during its own start-up) can hold
    // space mapped with the default hooks.
    bool existed = false;
    char name[64];
    len = sizeof(existed);
    snprintf(name, sizeof(name), "arena.%u.initialized", i);
    mallctl(name, &existed, &len, nullptr, 0);
    // Binding this thread to arena i makes jemalloc create it now, with default hooks and
    // therefore a default-mapped metadata base (see the header).
    if (mallctl("thread.arena", nullptr, nullptr, &i, sizeof(i)) != 0) {
      log::warn().str("jemalloc could not create arena ").u64(i).str("; running as a plain allocator").flush();
      return false;
    }
    snprintf(name, sizeof(name), "arena.%u.extent_hooks", i);
    if (mallctl(name, nullptr, nullptr, &hooks, sizeof(hooks)) != 0) {
      log::warn().str("jemalloc refused extent hooks for arena ").u64(i).str("; running as a plain allocator").flush();
      return false;
    }
    if (i == nauto) purge_huge_arena_eagerly(i);
    if (existed) drain_unmanaged_space(i);
  }
  mallctl("thread.arena", nullptr, nullptr, &original, sizeof(original));
  return true;
}

}  // namespace tmc::heap
