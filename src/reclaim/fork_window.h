// The page-state changes the fault thread makes while a fork is in progress.
//
// Why the fault thread keeps serving during a fork: glibc's fork() takes locks after the
// atfork prepare handlers have run (the NSS state, the stdio list lock held by a thread in
// fclose), and those live in heap memory that may be evicted. A fault thread that waited
// for the fork to end would hang it. So it serves every fault as usual, and the fork is made
// exact another way:
//
//  * prefork takes reclaim_lock_ (the reclaimer is between batches: no page is mid-move, the
//    pool is not compacted, no blob is stored), opens the window and waits until the fault
//    thread is between messages (Engine::dispatching_). From then on the fault thread
//    changes page words only with single CASes, never through a transient state (no
//    Filling, no zero-ahead), installs a page before its word says Resident, and frees no
//    blob: each change is first appended here with the word it replaced, and the blob stays
//    in the pool.
//  * The kernel copies the address space at one instant T. Every page word in the child is
//    then the word before or after each logged change, the pool is whole (nothing freed),
//    and this log holds the changes made up to T.
//  * Until the child's fault thread runs, the parent's serves the child's faults (glibc
//    touches heap memory in the child before any atfork handler). The child's word for a
//    page is the parent's current word unless the page is logged here; if it is, the old
//    word is the child's: a page brought back before T is present in the child and never
//    faults there, and a drop (a purge racing the fork) may be taken either way. The old
//    blob is still in the parent's pool, since nothing is freed until the window closes.
//  * settle(): when the window closes (parent) or at once (child), every logged blob whose
//    page no longer holds the old word is released, in each process's own pool. The parent
//    settles while holding the fork lock, so no new window opens before the log is empty.
//
// One writer (the fault thread, during a window); settle() runs when it is known not to
// append (engine.cc). Memory from base::meta_alloc, reserved once, touched as it fills.
#pragma once

#include <atomic>
#include <cstdint>

#include "heap/page_state.h"
#include "pool/pool.h"

namespace tmc::reclaim {

class ForkWindowLog {
 public:
  // Reserves the log. False if the kernel refuses (fork windows then keep blobs: see append).
  bool init();

  // Records that `entry` is about to leave `old`. False when the log is full: the caller
  // then changes the word anyway and keeps the blob (leaked, never wrongly freed), and the
  // child's early faults read the child's words themselves (overflowed_now()).
  bool append(heap::PageEntry* entry, heap::PageWord old);
  // Forgets the last append (its CAS failed).
  void drop_last() { count_.store(count_.load(std::memory_order_relaxed) - 1, std::memory_order_release); }

  // The word `entry` held when the window opened, if it changed since; false if unchanged.
  bool old_word(const heap::PageEntry* entry, heap::PageWord* out) const;

  // Releases the blob of every logged Compressed word its page no longer holds, then
  // empties the log. Returns the number of blobs released.
  uint32_t settle(pool::Pool& pool);

  // Whether an append failed since the window opened: the log is then incomplete, and a
  // forked child's words must be read from the child itself.
  bool overflowed_now() const { return overflowed_now_.load(std::memory_order_acquire); }

  uint32_t size() const { return count_.load(std::memory_order_acquire); }
  uint64_t overflowed() const { return overflowed_.load(std::memory_order_relaxed); }

 private:
  struct Change {
    heap::PageEntry* entry;
    uint64_t old_word;
  };
  // 2^18 changes (4 MiB reserved): a purge of 1 GiB of evicted pages racing one fork.
  static constexpr uint32_t kCapacity = uint32_t{1} << 18;
  Change* changes_ = nullptr;
  std::atomic<uint32_t> count_{0};
  std::atomic<uint64_t> overflowed_{0};
  std::atomic<bool> overflowed_now_{false};
};

}  // namespace tmc::reclaim
