// The allocation-site sampler and hot/cold segregation around jemalloc's calls, for the
// exported allocation functions (malloc.cc, new.cc). Each allocation first counts down to
// its thread's next sample (sites/sampler.h); only a sampled allocation, or one from a cold
// call site while segregation has any (sites/segregation.h), leaves the ordinary path.
#pragma once

#include <cstddef>

#include "base/compiler.h"
#include "heap/extent_hooks.h"
#include "sites/sampler.h"
#include "sites/segregation.h"

namespace tmc::preload {

// The allocation made here, or nullptr: the caller then makes the ordinary one. `caller`
// is the exported function's return address (__builtin_return_address(0) taken there).
// Segregation leaves aligned requests alone.
TMC_ALWAYS_INLINE void* site_alloc(const void* caller, size_t n, size_t alignment = 0, bool zero = false) {
  if (TMC_UNLIKELY(sites::sample_next(n))) {
    if (void* p = sites::sampled_alloc(n, alignment, zero)) return p;
  }
  return alignment > alignof(max_align_t) ? nullptr : sites::cold_alloc(caller, n, zero);
}

// Before a pointer goes back to jemalloc: ends its sample, if it is one, and gives it back
// here if it is the cold arena's (true: done).
TMC_ALWAYS_INLINE bool site_free(void* p) {
  sites::on_free(p);
  if (TMC_UNLIKELY(heap::in_cold_span(p))) {
    sites::cold_free(p);
    return true;
  }
  return false;
}

// Before a sized delete: as site_free, and *unsized says the size must not be passed on
// (an isolated sample, whose size class the size does not give: sites/sampler.h).
TMC_ALWAYS_INLINE bool site_free_sized(void* p, bool* unsized) {
  *unsized = sites::maybe_isolated(p);  // before site_free ends the sample
  return site_free(p);
}

}  // namespace tmc::preload
