// See eviction_gate.h.
#include "heap/eviction_gate.h"

#include "heap/page_state.h"
#include "platform/proc_fs.h"

namespace tmc::heap {

namespace {
constinit EvictionGate g_gate;
}

EvictionGate& eviction_gate() { return g_gate; }

bool EvictionGate::pin(uintptr_t addr, int32_t tid) {
  const uintptr_t page = addr & ~(kPageSize - 1);
  SpinLockGuard guard(lock_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    int used = used_.load(std::memory_order_relaxed);
    for (int i = 0; i < used; ++i) {
      if (pins_[i].page.load(std::memory_order_relaxed) == page && pins_[i].tid.load(std::memory_order_relaxed) == tid)
        return true;
    }
    for (int i = 0; i < kMaxPins; ++i) {
      if (pins_[i].page.load(std::memory_order_relaxed) != 0) continue;
      pins_[i].tid.store(tid, std::memory_order_relaxed);
      pins_[i].page.store(page, std::memory_order_release);
      if (i >= used) used_.store(i + 1, std::memory_order_release);
      return true;
    }
    unpin_exited_locked();
  }
  return false;
}

bool EvictionGate::pinned(uintptr_t page) const {
  int used = used_.load(std::memory_order_acquire);
  for (int i = 0; i < used; ++i)
    if (pins_[i].page.load(std::memory_order_acquire) == page) return true;
  return false;
}

void EvictionGate::unpin_exited_threads() {
  if (!has_pins()) return;
  SpinLockGuard guard(lock_);
  unpin_exited_locked();
}

void EvictionGate::unpin_exited_locked() {
  int used = used_.load(std::memory_order_relaxed);
  // One /proc read per thread, not per page: a thread's pins are usually together.
  int32_t last_tid = 0;
  bool last_exited = false;
  int new_used = 0;
  for (int i = 0; i < used; ++i) {
    if (pins_[i].page.load(std::memory_order_relaxed) == 0) continue;
    int32_t tid = pins_[i].tid.load(std::memory_order_relaxed);
    if (tid != last_tid) {
      last_tid = tid;
      last_exited = platform::thread_has_exited(tid);
    }
    if (last_exited) pins_[i].page.store(0, std::memory_order_release);
    else new_used = i + 1;
  }
  used_.store(new_used, std::memory_order_release);
}

void EvictionGate::reset_after_fork() {
  lock_.reset_after_fork();
  for (auto& p : pins_) p.page.store(0, std::memory_order_relaxed);
  used_.store(0, std::memory_order_relaxed);
}

}  // namespace tmc::heap
