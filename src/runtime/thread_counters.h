// Per-thread call counters for the malloc fast path: a plain increment of a thread-local
// block, no atomic read-modify-write, no shared cache line. Readers (the stats snapshot)
// sum all live blocks plus the totals folded in by exited threads.
#pragma once

#include <cstdint>

#include "base/compiler.h"

namespace tmc::runtime {

struct ThreadCounters {
  // Written only by the owning thread with relaxed stores; read by anyone.
  uint64_t malloc_calls;
  uint64_t realloc_calls;
  uint64_t free_calls;
  ThreadCounters* next;  // registry link (blocks are recycled, never freed)
  bool in_use;
};

enum class CallKind { kMalloc, kRealloc, kFree };

extern thread_local ThreadCounters* t_counters;

TMC_COLD void count_call_slow(CallKind kind);

TMC_ALWAYS_INLINE void bump(uint64_t* field) {
  __atomic_store_n(field, __atomic_load_n(field, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

// The fast path: one TLS load, a predictable branch, an increment.
TMC_ALWAYS_INLINE void count_call(CallKind kind) {
  ThreadCounters* c = t_counters;
  if (TMC_UNLIKELY(c == nullptr)) return count_call_slow(kind);
  bump(kind == CallKind::kMalloc ? &c->malloc_calls
                                 : kind == CallKind::kFree ? &c->free_calls : &c->realloc_calls);
}

struct CallTotals {
  uint64_t malloc_calls, realloc_calls, free_calls;
};
CallTotals call_totals();

// Creates the pthread key whose destructor folds an exiting thread's counts; call once
// at start-up, after which threads register on their first call.
void thread_counters_init();

// In a forked child only the forking thread survives: blocks of the parent's other
// threads are folded into the totals and recycled.
void thread_counters_after_fork_child();

}  // namespace tmc::runtime
