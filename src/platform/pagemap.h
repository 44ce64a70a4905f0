// /proc/self/pagemap: the 64-bit entry of every page of a range, which says whether the page
// is present and whether this process alone maps it. No allocation; the caller provides
// the buffer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tmc::platform {

inline constexpr uint64_t kPagemapPresent = 1ull << 63;
inline constexpr uint64_t kPagemapExclusive = 1ull << 56;
inline constexpr uint64_t kPagemapFrameMask = (1ull << 55) - 1;  // the PFN (0 without CAP_SYS_ADMIN)

class Pagemap {
 public:
  // Opens /proc/self/pagemap. Returns 0 or an errno.
  int open();
  void close();
  bool is_open() const { return fd_ >= 0; }

  // Reads the entries of `pages` pages from `start` into out. Returns false on error.
  bool entries(uintptr_t start, size_t pages, uint64_t* out) const;

  // The frame of the kernel's shared zero page, which a read of a page never written maps
  // (present, and mapped by everyone: not exclusive). 0 if the kernel hides frames from
  // this process.
  uint64_t zero_page_frame() const;

 private:
  int fd_ = -1;
};

}  // namespace tmc::platform
