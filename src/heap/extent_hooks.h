// jemalloc extent hooks: how the application's heap ends up in managed regions.
//
// libtmc keeps jemalloc's automatic arenas (so jemalloc's thread-to-arena spreading, its
// tcache and its fast paths stay exactly as tuned) but swaps their extent hooks for ours,
// which carve extents out of the RegionSet. Each arena is first initialised with jemalloc's
// default hooks and only then switched: an arena's *metadata* allocator (its "base") keeps
// the hooks it was created with, so jemalloc's own bookkeeping (mutexes, extent records)
// stays outside managed memory and can never be evicted. jemalloc touches that metadata
// from fork handlers and on every thread; it must stay resident (design invariant 4).
#pragma once

#include <atomic>
#include <cstdint>

#include "heap/regions.h"

namespace tmc::heap {

// Installs libtmc's hooks on every automatic arena. Must run before the application's
// first allocation. Returns false (and says why) if jemalloc refused; the caller then
// runs as a plain pass-through allocator.
bool install_extent_hooks(RegionSet* regions);

// Bytes of jemalloc's pre-hook space that install_extent_hooks allocated and holds so that
// the application never gets it (see drain_unmanaged_space in the .cc).
size_t pinned_unmanaged_bytes();

// Called around every purge (madvise) jemalloc asks for, on the purging thread. The
// eviction engine uses them so no page of a purged range is being evicted meanwhile.
void set_purge_guard(void (*before)(void* addr, size_t len), void (*after)());

// madvise, inside the purge guard when the range touches the managed heap: jemalloc's purges
// and the application's own madvise (preload/madvise.cc) both go through it, so no page of
// a purged range is being evicted meanwhile, and none is moved out between the kernel's
// REMOVE event and its zap of the range (design invariant 2). Returns madvise's result.
int guarded_madvise(void* addr, size_t length, int advice);

// The RegionSet the hooks allocate from (null before install).
RegionSet* managed_regions();

// The cold arena (TMC_SEGREGATE): a jemalloc arena of its own whose extents come from
// regions of their own (RegionKind::kCold), so that free() tells its objects by address and
// returns them to it past the thread's cache (which would hand them to any site). Created
// like the automatic arenas (metadata default-mapped, then libtmc's hooks). Returns its
// index, or -1 if jemalloc refused (said once).
int create_cold_arena();

// [lo, lo + size) spans every extent handed to the cold arena so far (it only grows). A
// pointer outside it is not the cold arena's; one inside usually is (ordinary regions
// between two cold ones fall inside too: freeing those past the cache is merely slower).
// The two words are read without a lock and may be seen half updated while the span
// grows: the answer is then wrong for that one call, which costs no correctness either way.
extern std::atomic<uintptr_t> g_cold_lo, g_cold_size;
inline bool in_cold_span(const void* p) {
  return reinterpret_cast<uintptr_t>(p) - g_cold_lo.load(std::memory_order_relaxed) <
         g_cold_size.load(std::memory_order_relaxed);
}

// Under mlockall(MCL_FUTURE) the kernel locks every mapping made from then on, but the managed
// regions were mapped before: so every range handed to jemalloc from then on is locked here
// (mlock, or mlock2(MLOCK_ONFAULT) for MCL_ONFAULT), which faults it in like a new locked
// mapping. runtime/memory_lock.h sets it.
enum class LockNewExtents { kNo, kLock, kLockOnFault };
void set_lock_new_extents(LockNewExtents mode);

}  // namespace tmc::heap
