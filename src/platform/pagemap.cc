#include "platform/pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace tmc::platform {

int Pagemap::open() {
  close();
  fd_ = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  return fd_ < 0 ? errno : 0;
}

void Pagemap::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Pagemap::entries(uintptr_t start, size_t pages, uint64_t* out) const {
  off_t off = static_cast<off_t>(start / 4096 * sizeof(uint64_t));
  auto want = static_cast<ssize_t>(pages * sizeof(uint64_t));
  return pread(fd_, out, static_cast<size_t>(want), off) == want;
}

uint64_t Pagemap::zero_page_frame() const {
  void* p = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 0;
  (void)*static_cast<volatile const char*>(p);  // maps the zero page
  uint64_t entry = 0;
  bool ok = entries(reinterpret_cast<uintptr_t>(p), 1, &entry);
  munmap(p, 4096);
  return ok && (entry & kPagemapPresent) != 0 ? entry & kPagemapFrameMask : 0;
}

}  // namespace tmc::platform
