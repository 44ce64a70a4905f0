// The exported mlockall and munlockall: the kernel's, made to fit the managed heap
// (src/runtime/memory_lock.h).
#include "base/compiler.h"
#include "runtime/memory_lock.h"

extern "C" TMC_EXPORT int mlockall(int flags) { return tmc::runtime::lock_all(flags); }

extern "C" TMC_EXPORT int munlockall(void) { return tmc::runtime::unlock_all(); }
