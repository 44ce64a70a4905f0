// A small test-and-test-and-set lock for libtmc's rare slow paths (region growth, thread
// registration). It never allocates and can be used before libc is initialised; code
// that may wait long uses a futex instead (base/wakeup.h).
#pragma once

#include <sched.h>

#include <atomic>

namespace tmc {

class SpinLock {
 public:
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) sched_yield();
    }
  }
  bool try_lock() {
    return !flag_.load(std::memory_order_relaxed) && !flag_.exchange(true, std::memory_order_acquire);
  }
  void unlock() { flag_.store(false, std::memory_order_release); }
  // After fork the child is single-threaded; a lock held by a vanished thread is freed.
  void reset_after_fork() { flag_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> flag_{false};
};

class SpinLockGuard {
 public:
  explicit SpinLockGuard(SpinLock& lock) : lock_(lock) { lock_.lock(); }
  ~SpinLockGuard() { lock_.unlock(); }
  SpinLockGuard(const SpinLockGuard&) = delete;
  SpinLockGuard& operator=(const SpinLockGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace tmc
