// The jemalloc entry points libtmc forwards to. libtmc.so defines malloc, free, ... itself,
// so it cannot name jemalloc's functions directly; they are looked up in libjemalloc.so.2
// (already loaded: it is libtmc.so's dependency, and Debian's redis-server links the same
// file, so the process has exactly one jemalloc).
//
// Until the lookup is done the pointers lead to bootstrap functions (init.cc) that finish
// start-up first; calls made *during* the lookup (dlsym may allocate) are served from a
// small static buffer.
#pragma once

#include <cstddef>
#include <new>

namespace tmc::runtime {

struct JemallocApi {
  void* (*malloc)(size_t);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  void (*free)(void*);
  int (*posix_memalign)(void**, size_t, size_t);
  void* (*aligned_alloc)(size_t, size_t);
  void* (*memalign)(size_t, size_t);
  void* (*valloc)(size_t);
  size_t (*malloc_usable_size)(void*);
  void (*sdallocx)(void*, size_t, int);
  // C++ operators: jemalloc's own implementations already follow the standard
  // (new_handler loop, std::bad_alloc, sized and aligned forms).
  void* (*op_new)(size_t);
  void* (*op_new_nothrow)(size_t, const std::nothrow_t&) noexcept;
  void* (*op_new_aligned)(size_t, std::align_val_t);
  void* (*op_new_aligned_nothrow)(size_t, std::align_val_t, const std::nothrow_t&) noexcept;
  void* (*op_new_array)(size_t);
  void* (*op_new_array_nothrow)(size_t, const std::nothrow_t&) noexcept;
  void* (*op_new_array_aligned)(size_t, std::align_val_t);
  void* (*op_new_array_aligned_nothrow)(size_t, std::align_val_t, const std::nothrow_t&) noexcept;
  void (*op_delete_aligned)(void*, std::align_val_t) noexcept;
  void (*op_delete_sized_aligned)(void*, size_t, std::align_val_t) noexcept;
};

// Read on every call; written once by init. Never null.
extern JemallocApi g_je;

// The bootstrap buffer. Its pointers must never reach jemalloc: free() ignores them and
// realloc() copies out of them. One unsigned compare tells.
inline constexpr size_t kBootstrapBytes = 256 * 1024;
extern char g_bootstrap_buf[kBootstrapBytes];

inline bool is_bootstrap_pointer(const void* p) {
  return static_cast<size_t>(static_cast<const char*>(p) - g_bootstrap_buf) < kBootstrapBytes;
}
// Size recorded for a bootstrap pointer.
size_t bootstrap_usable_size(const void* p);

}  // namespace tmc::runtime
