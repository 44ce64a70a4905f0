// See thread_counters.h.
//
// Registration happens on a thread's first counted call. It must not allocate through
// malloc (it runs inside malloc), so blocks come from meta_alloc; and it publishes the
// block in t_counters before calling pthread_setspecific, which may itself call malloc.
#include "runtime/thread_counters.h"

#include <pthread.h>

#include <atomic>

#include "base/meta_alloc.h"
#include "base/spin_lock.h"

namespace tmc::runtime {

constinit thread_local ThreadCounters* t_counters = nullptr;

namespace {

// Set once a thread's block was folded at exit: later calls from that thread (glibc frees
// TLS after key destructors) count straight into the totals.
constinit thread_local bool t_exited = false;

SpinLock g_lock;
ThreadCounters* g_blocks = nullptr;  // every block ever made; guarded by g_lock
std::atomic<uint64_t> g_folded[3];    // counts of exited threads, by CallKind
pthread_key_t g_key;
std::atomic<bool> g_key_ready{false};

uint64_t load(const uint64_t* f) { return __atomic_load_n(f, __ATOMIC_RELAXED); }

// Caller holds g_lock, so a reader summing blocks never sees a count both folded and live.
void fold_and_recycle(ThreadCounters* c) {
  g_folded[0].fetch_add(load(&c->malloc_calls), std::memory_order_relaxed);
  g_folded[1].fetch_add(load(&c->realloc_calls), std::memory_order_relaxed);
  g_folded[2].fetch_add(load(&c->free_calls), std::memory_order_relaxed);
  __atomic_store_n(&c->malloc_calls, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&c->realloc_calls, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&c->free_calls, 0, __ATOMIC_RELAXED);
  c->in_use = false;
}

void on_thread_exit(void* block) {
  t_counters = nullptr;
  t_exited = true;
  SpinLockGuard guard(g_lock);
  fold_and_recycle(static_cast<ThreadCounters*>(block));
}

ThreadCounters* acquire_block() {
  SpinLockGuard guard(g_lock);
  for (ThreadCounters* c = g_blocks; c != nullptr; c = c->next) {
    if (!c->in_use) {
      c->in_use = true;
      return c;
    }
  }
  auto* c = static_cast<ThreadCounters*>(base::meta_alloc(sizeof(ThreadCounters)));
  if (c == nullptr) return nullptr;
  c->in_use = true;
  c->next = g_blocks;
  g_blocks = c;
  return c;
}

}  // namespace

void count_call_slow(CallKind kind) {
  if (t_exited || !g_key_ready.load(std::memory_order_acquire)) {
    g_folded[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ThreadCounters* c = acquire_block();
  if (c == nullptr) {
    g_folded[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  t_counters = c;                     // first, so a malloc inside setspecific counts here
  pthread_setspecific(g_key, c);      // arms the exit destructor
  count_call(kind);
}

void thread_counters_init() {
  if (pthread_key_create(&g_key, on_thread_exit) == 0) g_key_ready.store(true, std::memory_order_release);
}

CallTotals call_totals() {
  SpinLockGuard guard(g_lock);
  CallTotals t{g_folded[0].load(std::memory_order_relaxed), g_folded[1].load(std::memory_order_relaxed),
               g_folded[2].load(std::memory_order_relaxed)};
  for (ThreadCounters* c = g_blocks; c != nullptr; c = c->next) {
    t.malloc_calls += load(&c->malloc_calls);
    t.realloc_calls += load(&c->realloc_calls);
    t.free_calls += load(&c->free_calls);
  }
  return t;
}

void thread_counters_after_fork_child() {
  g_lock.reset_after_fork();
  ThreadCounters* mine = t_counters;
  for (ThreadCounters* c = g_blocks; c != nullptr; c = c->next)
    if (c->in_use && c != mine) fold_and_recycle(c);
}

}  // namespace tmc::runtime
