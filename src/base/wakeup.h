// A sleep that another thread can cut short: the waiter takes a ticket, checks its
// condition, then waits on the ticket for at most a timeout; notify() ends every wait on an
// older ticket. A futex, so a waiter costs nothing while it sleeps and a notify() with no
// waiter makes no system call.
//
// Why not short sleeps in a loop: on the virtual machines libtmc runs on, each wake-up of a
// sleeping thread costs tens of microseconds of CPU (the timer and the context switch exit
// to the hypervisor: 40-60 us measured for the reclaimer), so a thread polling a flag every
// 10 ms burns about half a percent of a core doing nothing.
//
//   uint32_t t = w.ticket();
//   if (!condition()) w.wait(t, timeout_ns);   // the notifier sets condition, then notify()
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace tmc::base {

class Wakeup {
 public:
  uint32_t ticket() const { return seq_.load(std::memory_order_seq_cst); }

  // Returns when notify() was called after ticket() returned `ticket`, or after timeout_ns
  // (or a signal, or spuriously: callers re-check their condition).
  void wait(uint32_t ticket, uint64_t timeout_ns) {
    timespec ts{static_cast<time_t>(timeout_ns / 1000000000ull), static_cast<long>(timeout_ns % 1000000000ull)};
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    // The kernel compares seq_ with the ticket under its lock: a notify() in between makes
    // this return at once instead of sleeping through it.
    syscall(SYS_futex, &seq_, FUTEX_WAIT_PRIVATE, ticket, &ts, nullptr, 0);
    waiters_.fetch_sub(1, std::memory_order_seq_cst);
  }

  // In a forked child (single-threaded): the parent's waiters are not there.
  void reset_after_fork() { waiters_.store(0, std::memory_order_relaxed); }

  void notify() {
    seq_.fetch_add(1, std::memory_order_seq_cst);
    // A waiter that registers after this load sees the new seq_ in its futex call.
    if (waiters_.load(std::memory_order_seq_cst) != 0)
      syscall(SYS_futex, &seq_, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
  }

 private:
  std::atomic<uint32_t> seq_{0};
  std::atomic<uint32_t> waiters_{0};
  static_assert(sizeof(std::atomic<uint32_t>) == 4 && std::atomic<uint32_t>::is_always_lock_free,
                "the futex word is the atomic itself");
};

}  // namespace tmc::base
