// Hot/cold segregation by allocation site (TMC_SEGREGATE): allocations from call sites
// whose objects end up cold go to an arena of their own (heap/extent_hooks.h,
// create_cold_arena), so they fill pages of their own that can be compressed whole, and
// hot objects stay together on the pages that remain resident.
//
// Which sites are cold comes from the profile: every sampled object sits on a page of its
// own (sampler.h), so whether that page is evicted says how that object is used. About
// every 5 s the background thread sums, per caller (the return address into the function
// that called malloc), the bytes of its samples old enough to have been evicted if never
// touched (twice the cold age, 2 s at least: objects that die young, as in a cache with
// churn, say nothing yet), and the share of them on evicted pages:
//   - a caller becomes cold when that share reaches 80% (with at least 8 live samples),
//     unless it is mixed: a stack through it holding 10% or more of its bytes is mostly
//     resident, or two such stacks go on to different functions (the caller is a malloc
//     wrapper, such as Redis's zmalloc, standing for many sites), and unless it fails to
//     stand out: its share must be 30 points above that of the rest of the sampled heap
//     (a tenth of it at least); after an idle spell everything is evicted, and a rule
//     without contrast took every zmalloc entry point of Redis for a cold site;
//   - a cold caller becomes ordinary again when the share falls under 50% (its sampled
//     objects keep being placed on pages of their own, so a site that turns hot is seen).
// Decisions apply to new allocations only: no object ever moves.
//
// The allocation path asks only the immediate caller's return address, one load of a
// 1024-slot table, and that only while some caller is cold. Freeing checks the cold
// arena's address span (two loads) and gives its objects back past the thread cache.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/compiler.h"
#include "sites/snapshot.h"
#include "tmc/tmc.h"

namespace tmc::sites {

inline constexpr size_t kColdSlots = 1024;

extern std::atomic<bool> g_segregating;  // some caller is cold
extern std::atomic<uintptr_t> g_cold_callers[kColdSlots];

inline size_t cold_slot(uintptr_t return_address) {
  return static_cast<size_t>((return_address * 0x9E3779B97F4A7C15ull) >> 54);  // 10 bits
}

TMC_COLD void* cold_alloc_slow(size_t n, bool zero);

// The allocation made in the cold arena if `return_address` is a cold caller's, else
// nullptr (and the caller allocates as usual; also when the cold arena has no memory).
TMC_ALWAYS_INLINE void* cold_alloc(const void* return_address, size_t n, bool zero = false) {
  if (TMC_LIKELY(!g_segregating.load(std::memory_order_relaxed))) return nullptr;
  auto ra = reinterpret_cast<uintptr_t>(return_address);
  if (g_cold_callers[cold_slot(ra)].load(std::memory_order_relaxed) != ra) return nullptr;
  return cold_alloc_slow(n, zero);
}

// For pointers in the cold arena's span (heap::in_cold_span): past the thread cache.
TMC_COLD void cold_free(void* p);
// realloc of such a pointer: stays in the cold arena (n != 0).
TMC_COLD void* cold_realloc(void* p, size_t n);

// Turns segregation on with the cold arena `arena` (runtime start-up).
void start_segregation(unsigned arena);
bool segregation_enabled();

// The background thread, about every 5 s: decides again which callers are cold, from the
// samples at least min_age_ns old (younger ones may be cold and not evicted yet).
void decide_cold_callers(EvictedBytesFn evicted_bytes, uint64_t min_age_ns, uint64_t now_ns);

// Stats: segregated_* fields.
void fill_segregation_stats(tmc_stats* out);

}  // namespace tmc::sites
