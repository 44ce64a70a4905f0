// Keeps the reclaimer's moves of application pages apart from the fault thread's reading of
// address-space events and their handling.
//
// The kernel lets a purge go on the moment its REMOVE event is read, but the page words
// learn of the purge only when the fault thread handles the event, a little later. A
// MADV_FREE zaps nothing: the application may write the page again at once, with no fault.
// Had the reclaimer moved that page out in between, the late event dropped the page with
// the write in it (and a page owned by the reclaimer when the event came was dropped after
// its move the same way). With the fence a move happens either before the read (the page
// left with bytes from before the purge: dropping them is right) or after the handling (the
// page words know of the purge: a page it named and left in place is not taken).
//
// Both sides hold it briefly: the reclaimer for one UFFDIO_MOVE and the page-word changes
// around it, the fault thread for one read() and the events it returned. Neither waits for
// anything of the other's while inside (the fault thread's events need no lock the reclaimer
// holds; a move that meets an unread event fails with EAGAIN instead of waiting), so neither
// waits long. When both arrive at once the fault thread steps back, but it says it is
// waiting (read_wanted_) and the reclaimer lets it in before its next move: a reclaimer that
// moves run after run (every move refused, as in a forked child whose pages the parent
// still shares) would otherwise keep the fence closed and starve the faults.
#pragma once

#include <sched.h>

#include <atomic>

namespace tmc::reclaim {

class MoveFence {
 public:
  // Reclaimer: before a move of application pages (and the page words it changes with it).
  void enter_move() {
    while (read_wanted_.load(std::memory_order_acquire)) relax();
    moving_.store(true, std::memory_order_seq_cst);
    while (reading_.load(std::memory_order_seq_cst)) relax();
  }
  void leave_move() { moving_.store(false, std::memory_order_release); }

  // Fault thread: before a read() of the descriptor, until the events it returned are handled.
  void enter_read() {
    for (;;) {
      reading_.store(true, std::memory_order_seq_cst);
      if (!moving_.load(std::memory_order_seq_cst)) break;
      reading_.store(false, std::memory_order_seq_cst);
      read_wanted_.store(true, std::memory_order_release);
      while (moving_.load(std::memory_order_acquire)) relax();
    }
    read_wanted_.store(false, std::memory_order_release);
  }
  void leave_read() { reading_.store(false, std::memory_order_release); }

  // In a forked child: the threads that held it are gone.
  void reset_after_fork() {
    moving_.store(false, std::memory_order_relaxed);
    reading_.store(false, std::memory_order_relaxed);
    read_wanted_.store(false, std::memory_order_relaxed);
  }

 private:
  static void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    sched_yield();
  }

  std::atomic<bool> moving_{false};
  std::atomic<bool> reading_{false};
  std::atomic<bool> read_wanted_{false};  // the fault thread stepped back and waits its turn
};

// The reclaimer's side, as a scope that can be left early.
class MoveScope {
 public:
  explicit MoveScope(MoveFence& fence) : fence_(fence) { fence_.enter_move(); }
  ~MoveScope() { leave(); }
  void leave() {
    if (!inside_) return;
    inside_ = false;
    fence_.leave_move();
  }
  MoveScope(const MoveScope&) = delete;
  MoveScope& operator=(const MoveScope&) = delete;

 private:
  MoveFence& fence_;
  bool inside_ = true;
};

}  // namespace tmc::reclaim
