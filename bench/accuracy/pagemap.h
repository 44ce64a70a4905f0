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
  // Calls f(page index, present, swapped) for every page of the heap.
  template <typename F>
  void for_each(const Heap& heap, F&& f) {
    const size_t per = heap.pages_per_chunk();
    const size_t max_chunks = entries_.size() / per;
    for (size_t ch = 0; ch < heap.chunks();) {
      // One read for a run of chunks that lie next to each other (jemalloc mostly places
      // them so): 2 GiB in 64 KiB chunks is 32768 reads otherwise.
      size_t run = 1;
      while (ch + run < heap.chunks() && run < max_chunks &&
             heap.chunk(ch + run) == heap.chunk(ch) + run * per * kPage)
        ++run;
      read(heap.chunk(ch), run * per);
      for (size_t j = 0; j < run * per; ++j) {
        const bool present = (entries_[j] & kPresentBit) != 0;
        f(ch * per + j, present, !present && (entries_[j] & kSwappedBit) != 0);
      }
      ch += run;
    }
  }

 private:
  static constexpr uint64_t kPresentBit = uint64_t{1} << 63;
  static constexpr uint64_t kSwappedBit = uint64_t{1} << 62;
  // Entries of n pages from addr into entries_; exits on a short read.
  void read(const char* addr, size_t n);
  int fd_ = -1;
  OutsideArray<uint64_t> entries_;
};

}  // namespace acc
