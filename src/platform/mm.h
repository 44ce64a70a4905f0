// Memory-management system calls as libtmc uses them.
//
// raw_madvise: madvise without going through the process's madvise symbol. libtmc.so
// exports madvise itself (preload/madvise.cc) to serialise the application's purges of heap
// memory with eviction, so libtmc's own calls must not land there (they would take that
// lock again).
#pragma once

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

#ifndef PR_SET_VMA  // Linux 5.17 (CONFIG_ANON_VMA_NAME); newer than some installed headers
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

namespace tmc::platform {

inline int raw_madvise(void* addr, size_t len, int advice) {
  return static_cast<int>(syscall(SYS_madvise, addr, len, advice));
}

// Names an anonymous mapping for /proc/PID/maps ("[anon:NAME]"). Best effort: kernels
// without CONFIG_ANON_VMA_NAME refuse, harmlessly.
inline void name_mapping(void* addr, size_t len, const char* name) {
  prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name);
}

// A private read-write anonymous mapping straight from the kernel, named; nullptr if the
// kernel refuses.
inline void* map_anonymous(size_t len, const char* name) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  name_mapping(p, len, name);
  return p;
}

}  // namespace tmc::platform
