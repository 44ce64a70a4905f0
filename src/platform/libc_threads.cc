// See libc_threads.h.
#include "platform/libc_threads.h"

#include <gnu/libc-version.h>

#include <atomic>

#include "base/log.h"
#include "platform/elf_symbols.h"

namespace tmc::platform {
namespace {

// __nptl_nthreads (nptl/pthread_create.c, "unsigned int"): exported by libc.so.6 since
// glibc 2.34 as GLIBC_PRIVATE, for libthread_db. Looked up in the object that holds
// gnu_get_libc_version, a glibc-only function nobody interposes (pthread_create itself may
// be interposed, by libtmc too). The lookup reads the ELF tables and never allocates.
unsigned int* thread_count() {
  static std::atomic<unsigned int*> cached{nullptr};
  static std::atomic<bool> looked{false};
  if (!looked.load(std::memory_order_acquire)) {
    auto* p = static_cast<unsigned int*>(
        find_symbol_in_object_of(reinterpret_cast<const void*>(&gnu_get_libc_version), "__nptl_nthreads"));
    cached.store(p, std::memory_order_relaxed);
    if (p == nullptr && !looked.exchange(true))
      log::info().str("glibc's thread count was not found: a process whose last thread ends with pthread_exit "
                      "stays alive while libtmc's threads run").flush();
    looked.store(true, std::memory_order_release);
  }
  return cached.load(std::memory_order_relaxed);
}

}  // namespace

bool uncount_own_thread() {
  unsigned int* count = thread_count();
  if (count == nullptr) return false;
  // At least the creator and the new thread are counted; anything less means the layout
  // is not what this code knows, and the count is left alone.
  unsigned int seen = __atomic_load_n(count, __ATOMIC_RELAXED);
  while (seen >= 2) {
    if (__atomic_compare_exchange_n(count, &seen, seen - 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return true;
  }
  return false;
}

}  // namespace tmc::platform
