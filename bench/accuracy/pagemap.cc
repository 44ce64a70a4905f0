#include "pagemap.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace acc {
namespace {

constexpr uint64_t kPresent = uint64_t{1} << 63;
constexpr uint64_t kSwapped = uint64_t{1} << 62;

void add(PageCounts& c, uint64_t entry) {
  ++c.pages;
  c.present += (entry & kPresent) != 0;
  c.swapped += (entry & kPresent) == 0 && (entry & kSwapped) != 0;
}

}  // namespace

void Pagemap::open_self(size_t max_pages_per_read) {
  fd_ = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    fprintf(stderr, "bench_hotset: cannot open /proc/self/pagemap: %s\n", strerror(errno));
    exit(2);
  }
  entries_.allocate(max_pages_per_read);
}

void Pagemap::read(const char* addr, size_t n) {
  off_t off = static_cast<off_t>(reinterpret_cast<uintptr_t>(addr) / kPage * sizeof(uint64_t));
  ssize_t want = static_cast<ssize_t>(n * sizeof(uint64_t));
  if (pread(fd_, entries_.data(), static_cast<size_t>(want), off) == want) return;
  fprintf(stderr, "bench_hotset: short read of /proc/self/pagemap at %p\n", static_cast<const void*>(addr));
  exit(2);
}

PageCensus Pagemap::census(const Heap& heap, const HotWindow& a, const HotWindow& b) {
  PageCensus c;
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
      size_t page = ch * per + j;
      add(a.contains(page) ? c.in_a : (b.contains(page) ? c.in_b : c.rest), entries_[j]);
    }
    ch += run;
  }
  return c;
}

}  // namespace acc
