// The pool's new spans take the pages of staging slots whose contents are compressed,
// instead of fresh pages from the kernel (pool::PageSource). A fresh page costs the kernel
// an allocation and a zeroing, 1.6-2 µs on the VMs measured; moving a run of staged pages
// into place costs about 0.5 µs a page, and the ring then has fewer pages to drop when it
// wraps. Under a steady load the pages evicted become the pool that holds them.
//
// UFFDIO_MOVE puts pages only into a range registered with the descriptor that moves them.
// The pool's chunks are registered with a descriptor of their own, in write-protect mode
// only and with no events: nothing there traps (a missing pool page faults in as usual, no
// page is ever write-protected) and nothing ever waits on this descriptor. Registered with
// the engine's descriptor instead, missing pool pages would trap libtmc's own threads
// (invariant 4), and purging them would raise REMOVE events.
//
// Only the reclaimer uses it, from Pool::store() in its ENCODE step: the slots on offer are
// those of batches already committed, which no page state refers to any more.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "platform/uffd.h"
#include "pool/pool.h"

namespace tmc::reclaim {

class PageRecycler final : public pool::PageSource {
 public:
  // Opens the descriptor; false if the kernel cannot (the pool then gets fresh pages).
  bool open();
  // In a forked child: the descriptor drives the parent's address space. Closed if it is
  // in the calling thread's table (else only forgotten); the child's reclaimer opens its own.
  void close_after_fork(bool in_this_table);
  bool is_open() const { return uffd_.is_open(); }

  // The ring of staging slots starts over at `ring` (emptied): nothing is on offer.
  void restart(char* ring) { next_ = end_ = ring; }
  // The slots before `end` belong to committed batches: they may be taken.
  void offer_up_to(char* end) { end_ = end; }

  bool adopt(void* chunk, size_t bytes) override;
  size_t fill(void* dst, size_t pages) override;

  // Pages moved into the pool since the start.
  uint64_t recycled() const { return recycled_.load(std::memory_order_relaxed); }

 private:
  void give_up(const char* what, int err);

  platform::Uffd uffd_;
  char* next_ = nullptr;  // the next slot to take
  char* end_ = nullptr;   // slots from here on are not on offer
  bool given_up_ = false;
  std::atomic<uint64_t> recycled_{0};
};

}  // namespace tmc::reclaim
