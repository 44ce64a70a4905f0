// madvise without going through the process's madvise symbol: libtmc.so exports madvise
// itself (preload/madvise.cc) to serialise the application's purges of heap memory with
// eviction, so libtmc's own calls must not land there (they would take that lock again).
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace tmc::platform {

inline int raw_madvise(void* addr, size_t len, int advice) {
  return static_cast<int>(syscall(SYS_madvise, addr, len, advice));
}

}  // namespace tmc::platform
