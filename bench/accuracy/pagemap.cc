#include "pagemap.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace acc {

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
  for_each(heap, [&](size_t page, bool present, bool swapped) {
    PageCounts& to = a.contains(page) ? c.in_a : (b.contains(page) ? c.in_b : c.rest);
    ++to.pages;
    to.present += present;
    to.swapped += swapped;
  });
  return c;
}

}  // namespace acc
