// See sampler.h.
#include "sites/sampler.h"

#define UNW_LOCAL_ONLY
#include <jemalloc/jemalloc.h>
#include <libunwind.h>
#include <time.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "base/spin_lock.h"
#include "heap/extent_hooks.h"

namespace tmc::sites {

thread_local ThreadSampler t_sampler;
constinit SiteTable g_table;

namespace {

// Before start(): look again after this many bytes.
constexpr int64_t kUndecidedBytes = 1 << 20;
constexpr int64_t kNeverBytes = INT64_MAX / 4;

// > 0: the mean interval; 0: not started; < 0: off.
std::atomic<int64_t> g_interval{0};
uintptr_t g_own_lo = 0, g_own_hi = 0;

constinit SpinLock g_lock;
// Under g_lock.
uint64_t g_samples = 0;   // samples recorded
uint64_t g_dropped = 0;   // samples or frees that could not be recorded (atomic adds)

// Faulted pages that may hold samples: written by the fault thread, read by the background
// thread (single producer, single consumer). Full: the fault is counted lost.
constexpr size_t kRingSize = 4096;
uintptr_t g_ring[kRingSize];
std::atomic<uint64_t> g_ring_head{0};  // next to write
std::atomic<uint64_t> g_ring_tail{0};  // next to read
std::atomic<uint64_t> g_faults_lost{0};

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t next_random(ThreadSampler& t) {  // xorshift64*
  uint64_t x = t.rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  t.rng = x;
  return x * 0x2545F4914F6CDD1Dull;
}

// Bytes to the next sample: exponential with the given mean (a Poisson process over bytes).
int64_t draw_interval(ThreadSampler& t, int64_t mean) {
  if (t.rng == 0) t.rng = (reinterpret_cast<uintptr_t>(&t) ^ now_ns()) | 1;
  double u = (static_cast<double>(next_random(t) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  double bytes = -std::log(u) * static_cast<double>(mean);
  return bytes < 1 ? 1 : static_cast<int64_t>(bytes);
}

// Frees that arrived while the thread was inside the sampler (a signal handler's), under
// the lock. The handler may add more while we loop: the count is read again each turn.
void drain_pending(ThreadSampler& t, uint64_t now) {
  for (;;) {
    uint8_t n = __atomic_load_n(&t.deferred, __ATOMIC_RELAXED);
    if (n == 0) return;
    uintptr_t p = t.pending[n - 1];
    __atomic_store_n(&t.deferred, static_cast<uint8_t>(n - 1), __ATOMIC_RELAXED);
    g_table.remove_sample(p, now);
  }
}

void leave(ThreadSampler& t) {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t.busy = false;
}

}  // namespace

void start(uint64_t interval, uintptr_t own_lo, uintptr_t own_hi) {
  g_own_lo = own_lo;
  g_own_hi = own_hi;
  if (interval != 0) {
    SpinLockGuard guard(g_lock);
    if (!g_table.init()) interval = 0;  // mmap failed: no profile
  }
  g_interval.store(interval == 0 ? -1 : static_cast<int64_t>(interval), std::memory_order_release);
}

bool enabled() { return g_interval.load(std::memory_order_relaxed) > 0; }
uint64_t interval() {
  int64_t v = g_interval.load(std::memory_order_relaxed);
  return v > 0 ? static_cast<uint64_t>(v) : 0;
}

bool sample_point() {
  ThreadSampler& t = t_sampler;
  const int64_t mean = g_interval.load(std::memory_order_acquire);
  if (mean <= 0) {
    t.bytes_left = mean == 0 ? kUndecidedBytes : kNeverBytes;
    t.armed = false;
    return false;
  }
  // A thread's first slow path (its count started at 0), or its first since start(): no
  // interval was drawn yet. Draw one, and sample only if this allocation crosses it.
  if (!t.armed) {
    t.armed = true;
    t.bytes_left += draw_interval(t, mean);
    if (t.bytes_left >= 0) return false;
  }
  t.bytes_left = draw_interval(t, mean);
  return !t.busy;  // re-entered (libunwind, a signal handler): not sampled
}

namespace {

// Files the sampled object p (n bytes requested, `usable` as an ordinary allocation of n
// would get) under the caller's stack. The thread is busy.
void record(ThreadSampler& t, void* p, size_t n, uint64_t usable) {
  void* raw[kMaxFrames + 8];
  int depth = unw_backtrace(raw, static_cast<int>(sizeof(raw) / sizeof(raw[0])));
  int first = 1;  // raw[0] is this function
  while (first < depth) {
    auto ip = reinterpret_cast<uintptr_t>(raw[first]);
    if (ip < g_own_lo || ip >= g_own_hi) break;
    first++;
  }
  uintptr_t frames[kMaxFrames];
  uint32_t used = 0;
  for (int i = first; i < depth && used < kMaxFrames; ++i) frames[used++] = reinterpret_cast<uintptr_t>(raw[i]);
  const uint64_t hash = XXH3_64bits(frames, used * sizeof(uintptr_t));
  const size_t requested = n == 0 ? 1 : n;
  const int64_t mean = g_interval.load(std::memory_order_relaxed);
  // Sampled with probability 1 - exp(-n/mean): each sample stands for 1/that objects.
  const double weight = 1.0 / -std::expm1(-static_cast<double>(requested) / static_cast<double>(mean));
  const uint64_t now = now_ns();
  SpinLockGuard guard(g_lock);
  uint32_t site = g_table.site_for(frames, used, hash);
  if (g_table.add_sample(reinterpret_cast<uintptr_t>(p), usable, weight, site, now)) g_samples++;
  else __atomic_fetch_add(&g_dropped, 1, __ATOMIC_RELAXED);
  drain_pending(t, now);
}

void enter(ThreadSampler& t) {
  t.busy = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

constexpr size_t kPage = 4096;
constexpr size_t kLargeMin = 16 * 1024;  // jemalloc 5.3's SC_LARGE_MINCLASS with 4 KiB pages

}  // namespace

bool g_isolate = false;
void set_isolation(bool on) { g_isolate = on; }

void* sampled_alloc(size_t n, size_t alignment, bool zero) {
  ThreadSampler& t = t_sampler;
  enter(t);
  // From jemalloc's smallest large class up, every object has pages of its own already and
  // is placed as an ordinary allocation would be; below, a page alignment gives it one.
  const bool isolate = g_isolate && n < kLargeMin;
  const size_t align = isolate ? (alignment > kPage ? alignment : kPage) : alignment;
  void* p = mallocx(n == 0 ? 1 : n, (align > 16 ? MALLOCX_ALIGN(align) : 0) | (zero ? MALLOCX_ZERO : 0));
  if (p != nullptr) record(t, p, n, nallocx(n == 0 ? 1 : n, alignment > 16 ? MALLOCX_ALIGN(alignment) : 0));
  leave(t);
  return p;
}

void* sampled_realloc(void* p, size_t n) {
  ThreadSampler& t = t_sampler;
  enter(t);
  // The old object goes back past the thread cache if it was the cold arena's.
  const int align = g_isolate && n < kLargeMin ? MALLOCX_ALIGN(kPage) : 0;  // as in sampled_alloc
  void* q = rallocx(p, n, align | (heap::in_cold_span(p) ? MALLOCX_TCACHE_NONE : 0));
  if (q != nullptr) record(t, q, n, nallocx(n, 0));
  leave(t);
  return q;
}

void free_maybe_sampled(void* p) {
  ThreadSampler& t = t_sampler;
  if (t.busy) {
    uint8_t n = __atomic_load_n(&t.deferred, __ATOMIC_RELAXED);
    if (n < sizeof(t.pending) / sizeof(t.pending[0])) {
      t.pending[n] = reinterpret_cast<uintptr_t>(p);
      __atomic_store_n(&t.deferred, static_cast<uint8_t>(n + 1), __ATOMIC_RELAXED);
    } else {
      __atomic_fetch_add(&g_dropped, 1, __ATOMIC_RELAXED);  // its sample stays: a phantom
    }
    return;
  }
  enter(t);
  {
    const uint64_t now = now_ns();
    SpinLockGuard guard(g_lock);
    g_table.remove_sample(reinterpret_cast<uintptr_t>(p), now);
    drain_pending(t, now);
  }
  leave(t);
}

void note_fault(uintptr_t page) {
  if (!g_table.maybe_sampled_page(page)) return;
  uint64_t head = g_ring_head.load(std::memory_order_relaxed);
  if (head - g_ring_tail.load(std::memory_order_acquire) >= kRingSize) {
    g_faults_lost.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  g_ring[head % kRingSize] = page;
  g_ring_head.store(head + 1, std::memory_order_release);
}

void drain_faults() {
  static uintptr_t batch[kRingSize];  // background thread only
  uint64_t tail = g_ring_tail.load(std::memory_order_relaxed);
  uint64_t head = g_ring_head.load(std::memory_order_acquire);
  size_t n = 0;
  for (; tail != head && n < kRingSize; ++tail) batch[n++] = g_ring[tail % kRingSize];
  g_ring_tail.store(tail, std::memory_order_release);
  if (n == 0) return;
  std::sort(batch, batch + n);
  SpinLockGuard guard(g_lock);
  g_table.attribute_faults(batch, n);
}

void prefork() {
  if (g_table.ready()) g_lock.lock();
}
void postfork() {
  if (g_table.ready()) g_lock.unlock();
}

void fill_stats(tmc_stats* out) {
  if (!g_table.ready()) return;
  SpinLockGuard guard(g_lock);
  out->site_samples = g_samples;
  out->site_live_samples = g_table.live_samples();
  out->site_stacks = g_table.site_count() - 1;  // not "other"
  out->site_dropped = __atomic_load_n(&g_dropped, __ATOMIC_RELAXED) + g_faults_lost.load(std::memory_order_relaxed);
  out->site_table_bytes = g_table.mapped_bytes();
}

void with_table(void (*fn)(const SiteTable&, void*), void* arg) {
  if (!g_table.ready()) return;
  SpinLockGuard guard(g_lock);
  fn(g_table, arg);
}

}  // namespace tmc::sites
