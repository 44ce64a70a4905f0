// Sampled allocation profiling: which call stacks allocate the heap, and what becomes of
// their objects (compressed, faulted back, freed).
//
// On average one allocation every TMC_SITE_SAMPLE bytes is sampled: each thread counts
// bytes down from a random interval (exponentially distributed, so periodic patterns are
// not missed), and the allocation that crosses zero is sampled, on a page of its own
// (sampled_alloc). A sample costs a stack walk (libunwind's unw_backtrace, which reads .eh_frame: Debian's redis-server has no
// frame pointers) and a lock; every other allocation costs a thread-local subtraction.
// free() reads one byte of a filter (site_table.h) and takes the slow path only for
// pointers that may be samples.
//
// Faults: the fault thread hands the addresses of faulted pages that may hold a sample to
// a ring (one filter byte per fault otherwise); the background thread attributes them.
//
// Re-entry: a thread inside the sampler (holding its lock, or walking its stack) that
// allocates again (libunwind, a signal handler) is not sampled, and the frees it makes wait
// in a small per-thread list until it leaves, so the lock is never taken twice.
//
// Memory: site_table.h. Nothing here allocates in the managed heap.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/compiler.h"
#include "sites/site_table.h"
#include "tmc/tmc.h"

namespace tmc::sites {

struct ThreadSampler {
  int64_t bytes_left;  // sample when an allocation takes it below zero
  uint64_t rng;        // 0 until the thread's first slow path
  bool armed;          // an interval was drawn since sampling started
  bool busy;           // inside the sampler: allocations are not sampled, frees wait
  uint8_t deferred;    // frees waiting in `pending`
  uintptr_t pending[8];
};

extern thread_local ThreadSampler t_sampler;
extern SiteTable g_table;

TMC_COLD bool sample_point();
TMC_COLD void free_maybe_sampled(void* p);

// Before every allocation of n requested bytes: true if this allocation is to be sampled,
// in which case the caller makes it with sampled_alloc() or sampled_realloc().
TMC_ALWAYS_INLINE bool sample_next(size_t n) {
  ThreadSampler& t = t_sampler;
  t.bytes_left -= static_cast<int64_t>(n);
  return TMC_UNLIKELY(t.bytes_left < 0) && sample_point();
}

// A sampled allocation. With isolation on (TMC_SEGREGATE), on a page of its own (aligned to
// 4096 when smaller than jemalloc's large classes, which have pages of their own), so that
// whether its page is evicted or faults tells how *this* object is used, not its
// neighbours, and segregation (segregation.h) can tell a cold site from a hot one that
// shares its pages; that costs a page per sample (0.4% of the heap at one sample per MiB).
// Without it, placed as an ordinary allocation. nullptr if jemalloc has no memory: the
// caller then takes its ordinary path, which reports the failure its own way.
TMC_COLD void* sampled_alloc(size_t n, size_t alignment, bool zero);
// realloc's (p is not null, n is not 0); with isolation the object moves to a page of its own.
TMC_COLD void* sampled_realloc(void* p, size_t n);

// Isolation of sampled objects (above): set once at start-up, before threads run. An
// isolated sample's size class is not the one its requested size gives, so a sized free of
// it (operator delete with a size) must go through free() instead (preload/site_paths.h).
void set_isolation(bool on);
extern bool g_isolate;
TMC_ALWAYS_INLINE bool maybe_isolated(const void* p) { return g_isolate && g_table.maybe_sampled(p); }

// Before every free (and before realloc moves or frees its argument).
TMC_ALWAYS_INLINE void on_free(void* p) {
  if (TMC_UNLIKELY(g_table.maybe_sampled(p))) free_maybe_sampled(p);
}

// Starts sampling with a mean interval of `interval` bytes, or turns it off for good
// (interval 0). Until called, threads look again every MiB. `own_lo`..`own_hi`: libtmc's
// code, left out of stacks.
void start(uint64_t interval, uintptr_t own_lo, uintptr_t own_hi);
bool enabled();
uint64_t interval();

// The fault thread, for each fault served on an evicted page.
void note_fault(uintptr_t page);
// The background thread: attributes faults queued since the last call.
void drain_faults();

// Fork: the lock is held across fork() and released on both sides.
void prefork();
void postfork();

// Stats: site_* fields.
void fill_stats(tmc_stats* out);

// Runs `fn(table, arg)` under the lock (reports, tests).
void with_table(void (*fn)(const SiteTable&, void*), void* arg);

}  // namespace tmc::sites
