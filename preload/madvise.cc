// The application's madvise: on heap memory it runs inside the purge guard, like
// jemalloc's own purges, so that a page it discards is never mid-eviction and never moved
// out between the kernel's REMOVE event and its zap of the range (src/heap/extent_hooks.h).
// Elsewhere it is the plain system call. (A program calling syscall(SYS_madvise) itself
// bypasses this; the engine still drops the state of what the REMOVE event names.)
#include <cstddef>

#include "base/compiler.h"
#include "heap/extent_hooks.h"

// -1 with errno set on failure, as glibc's.
extern "C" TMC_EXPORT int madvise(void* addr, size_t length, int advice) {
  return tmc::heap::guarded_madvise(addr, length, advice);
}
