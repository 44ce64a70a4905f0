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

// Under mlockall(MCL_FUTURE) the kernel locks every mapping made from then on, but the managed
// regions were mapped before: so every range handed to jemalloc from then on is locked here
// (mlock, or mlock2(MLOCK_ONFAULT) for MCL_ONFAULT), which faults it in like a new locked
// mapping. runtime/memory_lock.h sets it.
enum class LockNewExtents { kNo, kLock, kLockOnFault };
void set_lock_new_extents(LockNewExtents mode);

}  // namespace tmc::heap
