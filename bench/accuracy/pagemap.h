// Which pages of the heap are in this process's page tables, from /proc/self/pagemap (bit
// 63 present, bit 62 swapped). Reading pagemap faults nothing in. A page libtmc evicted
// (UFFDIO_MOVE) is neither present nor swapped.
#pragma once

#include <cstddef>
#include <cstdint>

#include "heap.h"
#include "hot_window.h"
#include "outside_heap.h"

namespace acc {

struct PageCounts {
  size_t pages = 0;
  size_t present = 0;
  size_t swapped = 0;  // by the kernel's own reclaim (a swap device), not by libtmc
  size_t absent() const { return pages - present - swapped; }
  double absent_share() const { return pages ? static_cast<double>(absent()) / static_cast<double>(pages) : 0; }
  double present_share() const { return pages ? static_cast<double>(present) / static_cast<double>(pages) : 0; }
};

// Pages of the heap split three ways by two windows: in `a`, in `b` (not in a), in neither.
struct PageCensus {
  PageCounts in_a, in_b, rest;
};

class Pagemap {
 public:
  // Exits with a message if /proc/self/pagemap cannot be read: nothing is measured without it.
  void open_self(size_t max_pages_per_read);
  // Reads the entries of every page of the heap (chunk by chunk: chunks need not be adjacent).
  PageCensus census(const Heap& heap, const HotWindow& a, const HotWindow& b);

 private:
  // Entries of n pages from addr into entries_; exits on a short read.
  void read(const char* addr, size_t n);
  int fd_ = -1;
  OutsideArray<uint64_t> entries_;
};

}  // namespace acc
