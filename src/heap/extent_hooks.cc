// See extent_hooks.h. jemalloc's hook contract: every hook returns false on success and
// true to refuse (jemalloc then falls back, e.g. retains a range it could not unmap).
#include "heap/extent_hooks.h"

#include <jemalloc/jemalloc.h>
#include <sys/mman.h>

#include <cstdio>

#include "base/log.h"

namespace tmc::heap {
namespace {

RegionSet* g_regions = nullptr;

void* hook_alloc(extent_hooks_t*, void* new_addr, size_t size, size_t alignment, bool* zero,
                 bool* commit, unsigned) {
  void* p = g_regions->allocate(new_addr, size, alignment);
  if (p != nullptr) {
    *zero = true;  // region memory is fresh or was purged before reuse
    *commit = true;
  }
  return p;
}

// Refusing makes jemalloc keep the range as "retained" and reuse it later; that is
// jemalloc's own default on Linux (opt.retain) and keeps regions dense.
bool hook_dalloc(extent_hooks_t*, void*, size_t, bool, unsigned) { return true; }

void hook_destroy(extent_hooks_t*, void* addr, size_t size, bool, unsigned) {
  if (g_regions->contains(addr, size)) {
    g_regions->release(addr, size);
  } else {
    munmap(addr, size);  // an extent jemalloc mapped before our hooks were installed
  }
}

// Memory is always committed (Linux overcommits); decommit is refused so jemalloc purges.
bool hook_commit(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) { return false; }
bool hook_decommit(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) { return true; }

bool hook_purge_lazy(extent_hooks_t*, void* addr, size_t, size_t offset, size_t length, unsigned) {
  return madvise(static_cast<char*>(addr) + offset, length, MADV_FREE) != 0;
}

bool hook_purge_forced(extent_hooks_t*, void* addr, size_t, size_t offset, size_t length, unsigned) {
  return madvise(static_cast<char*>(addr) + offset, length, MADV_DONTNEED) != 0;
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

}  // namespace

RegionSet* managed_regions() { return g_regions; }

bool install_extent_hooks(RegionSet* regions) {
  g_regions = regions;
  unsigned narenas = 0;
  size_t len = sizeof(narenas);
  if (mallctl("opt.narenas", &narenas, &len, nullptr, 0) != 0 || narenas == 0) {
    log::warn().str("jemalloc did not report its arenas; running as a plain allocator").flush();
    return false;
  }
  unsigned original = 0;
  len = sizeof(original);
  mallctl("thread.arena", &original, &len, nullptr, 0);
  extent_hooks_t* hooks = &g_hooks;
  for (unsigned i = 0; i < narenas; ++i) {
    // Binding this thread to arena i makes jemalloc create it now, with default hooks and
    // therefore a default-mapped metadata base (see the header).
    if (mallctl("thread.arena", nullptr, nullptr, &i, sizeof(i)) != 0) {
      log::warn().str("jemalloc could not create arena ").u64(i).str("; running as a plain allocator").flush();
      return false;
    }
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.extent_hooks", i);
    if (mallctl(name, nullptr, nullptr, &hooks, sizeof(hooks)) != 0) {
      log::warn().str("jemalloc refused extent hooks for arena ").u64(i).str("; running as a plain allocator").flush();
      return false;
    }
  }
  mallctl("thread.arena", nullptr, nullptr, &original, sizeof(original));
  return true;
}

}  // namespace tmc::heap
