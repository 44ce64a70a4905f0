// Pages the reclaimer may not evict right now, whatever their age: what the kernel will
// touch for an exiting thread after that thread's last chance to fault (its robust-mutex
// list, its clear_child_tid), because the faults of an exiting task are not served
// (runtime/thread_exit.h).
//
// The reclaimer reads the pins with reclaim_lock_ held, once per batch, and drops pinned
// pages from it. Whoever pins a page must then wait for the batch in flight, if any, to end
// (take and drop reclaim_lock_: runtime/eviction_barrier.h) before bringing the page back:
// from then on it stays.
//
// Pins belong to a thread and are dropped once that thread has exited
// (unpin_exited_threads, called by the background thread and when the table is full).
#pragma once

#include <atomic>
#include <cstdint>

#include "base/spin_lock.h"

namespace tmc::heap {

class EvictionGate {
 public:
  static constexpr int kMaxPins = 256;

  // Pins the OS page holding `addr` for thread `tid`; false if the table is full even after
  // dropping the pins of exited threads.
  bool pin(uintptr_t addr, int32_t tid);
  bool pinned(uintptr_t page) const;
  bool has_pins() const { return used_.load(std::memory_order_acquire) != 0; }
  // Drops the pins of threads that have exited.
  void unpin_exited_threads();

  // In a forked child: the pins name the parent's threads.
  void reset_after_fork();

 private:
  struct Pin {
    std::atomic<uintptr_t> page;  // 0: free
    std::atomic<int32_t> tid;
  };
  void unpin_exited_locked();

  // Entries [0, used_) may be in use; writers hold lock_, readers (the reclaimer) scan
  // without it.
  std::atomic<int> used_{0};
  SpinLock lock_;
  Pin pins_[kMaxPins] = {};
};

EvictionGate& eviction_gate();

}  // namespace tmc::heap
