// See thread_exit.h.
#include "runtime/thread_exit.h"

#include <gnu/libc-version.h>
#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "base/meta_alloc.h"
#include "base/spin_lock.h"
#include "heap/eviction_gate.h"
#include "heap/extent_hooks.h"
#include "platform/elf_symbols.h"
#include "reclaim/engine.h"
#include "runtime/eviction_barrier.h"

namespace tmc::runtime {
namespace {

using CreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);

// glibc's pthread_create, found in the object that holds gnu_get_libc_version (a glibc-only
// function nobody interposes), without allocating.
CreateFn real_pthread_create() {
  static std::atomic<CreateFn> fn{nullptr};
  CreateFn f = fn.load(std::memory_order_acquire);
  if (f == nullptr) {
    f = reinterpret_cast<CreateFn>(
        platform::find_symbol_in_object_of(reinterpret_cast<const void*>(&gnu_get_libc_version), "pthread_create"));
    fn.store(f, std::memory_order_release);
  }
  return f;
}

// What the new thread must call, handed over through meta memory (never the heap: libtmc's
// own threads are created this way too, some in a forked child before its fault thread runs).
struct StartRecord {
  void* (*start)(void*);
  void* arg;
  StartRecord* next_free;
};
SpinLock g_records_lock;
StartRecord* g_free_records = nullptr;  // guarded by g_records_lock

StartRecord* take_record() {
  {
    SpinLockGuard guard(g_records_lock);
    if (StartRecord* r = g_free_records) {
      g_free_records = r->next_free;
      return r;
    }
  }
  return static_cast<StartRecord*>(base::meta_alloc(sizeof(StartRecord)));
}

void give_back(StartRecord* r) {
  SpinLockGuard guard(g_records_lock);
  r->next_free = g_free_records;
  g_free_records = r;
}

void* trampoline(void* arg) {
  auto* r = static_cast<StartRecord*>(arg);
  void* (*start)(void*) = r->start;
  void* start_arg = r->arg;
  give_back(r);
  arm_thread_exit_hook();
  return start(start_arg);
}

// The exit hook is a pthread key destructor. Its first run asks for one more round, so that
// it also runs after the destructors of keys made later (one of which might take a robust
// mutex); glibc runs up to PTHREAD_DESTRUCTOR_ITERATIONS rounds.
char kFirstRound, kLastRound;
pthread_key_t g_key;
std::atomic<int> g_key_state{0};  // 0: not made, 1: being made, 2: ready, 3: failed

void on_thread_exit(void* round) {
  prepare_thread_exit();
  if (round == &kFirstRound) pthread_setspecific(g_key, &kLastRound);
}

bool key_ready() {
  int state = g_key_state.load(std::memory_order_acquire);
  while (state < 2) {
    if (state == 0 && g_key_state.compare_exchange_strong(state, 1, std::memory_order_acq_rel)) {
      state = pthread_key_create(&g_key, on_thread_exit) == 0 ? 2 : 3;
      g_key_state.store(state, std::memory_order_release);
      break;
    }
    sched_yield();
    state = g_key_state.load(std::memory_order_acquire);
  }
  return state == 2;
}

// The kernel's view of a thread's robust-mutex list (include/uapi/linux/futex.h). Entry
// pointers carry a flag in bit 0 (a PI mutex).
robust_list* strip(robust_list* p) { return reinterpret_cast<robust_list*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t{1}); }
constexpr int kRobustListLimit = 2048;  // the kernel's ROBUST_LIST_LIMIT: it stops there too
constexpr int kMaxTouched = 64;

struct Touch {
  uintptr_t addr;
  bool write;  // the kernel will write there
};

// Where glibc keeps a thread's robust-list head and its clear_child_tid word: fields of its
// thread descriptor (struct pthread), at offsets from pthread_self() that are the same for
// every thread. Learnt once from the calling thread at start-up, since asking the kernel
// (get_robust_list, PR_GET_TID_ADDRESS) costs several microseconds a call on these VMs and
// every thread exit would pay it twice. kUnknown: ask the kernel at each exit.
constexpr long kUnknown = -1;
long g_head_offset = kUnknown, g_tid_offset = kUnknown;

long offset_in_descriptor(const void* field) {
  long off = static_cast<long>(reinterpret_cast<uintptr_t>(field) - reinterpret_cast<uintptr_t>(pthread_self()));
  return field != nullptr && off >= 0 && off < 16384 && off % alignof(int) == 0 ? off : kUnknown;
}

void learn_offsets() {
  robust_list_head* head = nullptr;
  size_t len = 0;
  if (syscall(SYS_get_robust_list, 0, &head, &len) == 0) g_head_offset = offset_in_descriptor(head);
  int* tid_address = nullptr;
  if (prctl(PR_GET_TID_ADDRESS, &tid_address, 0, 0, 0) == 0) g_tid_offset = offset_in_descriptor(tid_address);
}

robust_list_head* own_robust_list() {
  if (g_head_offset != kUnknown)
    return reinterpret_cast<robust_list_head*>(reinterpret_cast<char*>(pthread_self()) + g_head_offset);
  robust_list_head* head = nullptr;
  size_t len = 0;
  return syscall(SYS_get_robust_list, 0, &head, &len) == 0 ? head : nullptr;
}

int* own_tid_address() {
  if (g_tid_offset != kUnknown) return reinterpret_cast<int*>(reinterpret_cast<char*>(pthread_self()) + g_tid_offset);
  int* tid_address = nullptr;
  return prctl(PR_GET_TID_ADDRESS, &tid_address, 0, 0, 0) == 0 ? tid_address : nullptr;
}

}  // namespace

int create_thread(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  CreateFn create = real_pthread_create();
  if (create == nullptr) return EAGAIN;  // cannot happen with glibc
  StartRecord* r = take_record();
  if (r == nullptr) return create(thread, attr, start, arg);  // no meta memory: no exit hook either
  r->start = start;
  r->arg = arg;
  int rc = create(thread, attr, trampoline, r);
  if (rc != 0) give_back(r);
  return rc;
}

void thread_exit_after_fork_child() { g_records_lock.reset_after_fork(); }

void thread_exit_init() {
  learn_offsets();
  key_ready();
}

void arm_thread_exit_hook() {
  if (key_ready()) pthread_setspecific(g_key, &kFirstRound);
}

void prepare_thread_exit() {
  if (!reclaim::engine().running()) return;
  heap::RegionSet* regions = heap::managed_regions();
  if (regions == nullptr) return;
  Touch touch[kMaxTouched];
  int n = 0;
  auto note = [&](const void* p, size_t bytes, bool write) {
    if (n < kMaxTouched && regions->overlaps(p, bytes)) touch[n++] = Touch{reinterpret_cast<uintptr_t>(p), write};
  };
  // The robust list: its head lives in the thread's descriptor (managed only when the
  // program gave the thread a stack from the heap); the entries are in the mutexes.
  if (robust_list_head* head = own_robust_list()) {
    note(head, sizeof(*head), false);
    const long offset = head->futex_offset;
    robust_list* entry = strip(head->list.next);
    for (int i = 0; entry != nullptr && entry != &head->list && i < kRobustListLimit; ++i) {
      note(entry, sizeof(*entry), false);
      note(reinterpret_cast<char*>(entry) + offset, sizeof(uint32_t), true);
      entry = strip(entry->next);
    }
    if (robust_list* pending = strip(head->list_op_pending)) {
      note(pending, sizeof(*pending), false);
      note(reinterpret_cast<char*>(pending) + offset, sizeof(uint32_t), true);
    }
  }
  // clear_child_tid: glibc's is in the thread's descriptor, like the list head.
  if (int* tid_address = own_tid_address()) note(tid_address, sizeof(int), true);
  if (n == 0) return;

  // Pin first, then wait out a batch that may have picked these pages before the pins, then
  // bring them back: from then on none of them leaves until this thread has exited.
  const auto tid = static_cast<int32_t>(gettid());
  heap::EvictionGate& gate = heap::eviction_gate();
  for (int i = 0; i < n; ++i) gate.pin(touch[i].addr, tid);
  wait_for_eviction_batch();
  for (int i = 0; i < n; ++i) {
    if (touch[i].write) {
      // A write fault, so the page is there and writable; atomic, since another thread may
      // be updating the futex word (setting FUTEX_WAITERS) at the same time.
      __atomic_fetch_or(reinterpret_cast<uint32_t*>(touch[i].addr), 0u, __ATOMIC_RELAXED);
    } else {
      (void)*reinterpret_cast<volatile const char*>(touch[i].addr);
    }
  }
}

}  // namespace tmc::runtime
