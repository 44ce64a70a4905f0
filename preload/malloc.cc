// The exported C allocation functions. Each is a forward to jemalloc plus a per-thread
// counter and the allocation-site paths (site_paths.h); anything rarer lives in src/. Pointers handed out during start-up come from a
// bootstrap buffer and must never reach jemalloc (the free() check below).
#include <errno.h>
#include <unistd.h>

#include <cstring>

#include "base/compiler.h"
#include "runtime/jemalloc_api.h"
#include "runtime/thread_counters.h"
#include "site_paths.h"

using tmc::runtime::CallKind;
using tmc::runtime::count_call;
using tmc::runtime::g_je;
using tmc::runtime::is_bootstrap_pointer;
using tmc::preload::site_alloc;
using tmc::preload::site_free;

namespace {

constexpr size_t kPage = 4096;

TMC_COLD void* realloc_from_bootstrap(void* p, size_t n) {
  void* q = g_je.malloc(n);
  if (q != nullptr) {
    size_t old = tmc::runtime::bootstrap_usable_size(p);
    memcpy(q, p, old < n ? old : n);
  }
  return q;
}

}  // namespace

extern "C" {

TMC_EXPORT void* malloc(size_t n) {
  count_call(CallKind::kMalloc);
  if (void* p = site_alloc(__builtin_return_address(0), n)) return p;
  return g_je.malloc(n);
}

TMC_EXPORT void free(void* p) {
  if (TMC_UNLIKELY(is_bootstrap_pointer(p))) return;
  count_call(CallKind::kFree);
  if (site_free(p)) return;
  g_je.free(p);
}

TMC_EXPORT void* calloc(size_t n, size_t m) {
  count_call(CallKind::kMalloc);
  size_t total;
  if (!__builtin_mul_overflow(n, m, &total)) {  // jemalloc's calloc reports the overflow
    if (void* p = site_alloc(__builtin_return_address(0), total, 0, true)) return p;
  }
  return g_je.calloc(n, m);
}

TMC_EXPORT void* realloc(void* p, size_t n) {
  count_call(CallKind::kRealloc);
  if (TMC_UNLIKELY(is_bootstrap_pointer(p))) return realloc_from_bootstrap(p, n);
  if (p == nullptr) {
    if (void* q = site_alloc(__builtin_return_address(0), n)) return q;
  } else {
    // The object ends here for the profile even if it stays in place: the new size is
    // another allocation.
    tmc::sites::on_free(p);
    if (n != 0 && tmc::sites::sample_next(n)) {
      if (void* q = tmc::sites::sampled_realloc(p, n)) return q;
    }
    if (TMC_UNLIKELY(tmc::heap::in_cold_span(p))) {  // stays cold; realloc(p, 0) frees, as jemalloc's does
      if (n == 0) return tmc::sites::cold_free(p), nullptr;
      void* q = tmc::sites::cold_realloc(p, n);
      if (q == nullptr) errno = ENOMEM;
      return q;
    }
  }
  void* q = g_je.realloc(p, n);
  // jemalloc 5.3 returns NULL without setting errno for sizes beyond its largest class;
  // POSIX asks for ENOMEM (realloc(p, 0) returning NULL after freeing is not a failure).
  if (TMC_UNLIKELY(q == nullptr) && n != 0) errno = ENOMEM;
  return q;
}

TMC_EXPORT void* reallocarray(void* p, size_t n, size_t m) {
  size_t total;
  if (__builtin_mul_overflow(n, m, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, total);
}

TMC_EXPORT int posix_memalign(void** out, size_t alignment, size_t n) {
  count_call(CallKind::kMalloc);
  // Invalid alignments take jemalloc's path, which reports them.
  if (alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment % sizeof(void*) == 0) {
    if (void* p = site_alloc(__builtin_return_address(0), n, alignment)) return *out = p, 0;
  }
  return g_je.posix_memalign(out, alignment, n);
}

TMC_EXPORT void* aligned_alloc(size_t alignment, size_t n) {
  count_call(CallKind::kMalloc);
  if (alignment != 0 && (alignment & (alignment - 1)) == 0) {
    if (void* p = site_alloc(__builtin_return_address(0), n, alignment)) return p;
  }
  return g_je.aligned_alloc(alignment, n);
}

TMC_EXPORT void* memalign(size_t alignment, size_t n) {
  count_call(CallKind::kMalloc);
  if (alignment != 0 && (alignment & (alignment - 1)) == 0) {
    if (void* p = site_alloc(__builtin_return_address(0), n, alignment)) return p;
  }
  return g_je.memalign(alignment, n);
}

TMC_EXPORT void* valloc(size_t n) {
  count_call(CallKind::kMalloc);
  if (void* p = site_alloc(__builtin_return_address(0), n, kPage)) return p;
  return g_je.valloc(n);
}

// glibc's pvalloc: page-aligned, size rounded up to whole pages (jemalloc has none).
TMC_EXPORT void* pvalloc(size_t n) {
  size_t rounded = (n + kPage - 1) & ~(kPage - 1);
  if (rounded < n) {
    errno = ENOMEM;
    return nullptr;
  }
  return memalign(kPage, rounded == 0 ? kPage : rounded);
}

TMC_EXPORT size_t malloc_usable_size(void* p) {
  if (p == nullptr) return 0;
  if (TMC_UNLIKELY(is_bootstrap_pointer(p))) return tmc::runtime::bootstrap_usable_size(p);
  return g_je.malloc_usable_size(p);
}

// glibc-internal names some programs and libraries call directly; they must reach the
// same allocator as malloc/free or a pointer would cross allocators.
TMC_EXPORT void* __libc_malloc(size_t n) __attribute__((alias("malloc"), copy(malloc)));
TMC_EXPORT void __libc_free(void* p) __attribute__((alias("free"), copy(free)));
TMC_EXPORT void* __libc_calloc(size_t n, size_t m) __attribute__((alias("calloc"), copy(calloc)));
TMC_EXPORT void* __libc_realloc(void* p, size_t n) __attribute__((alias("realloc"), copy(realloc)));
TMC_EXPORT void* __libc_memalign(size_t a, size_t n) __attribute__((alias("memalign"), copy(memalign)));
TMC_EXPORT void* __libc_valloc(size_t n) __attribute__((alias("valloc"), copy(valloc)));
TMC_EXPORT void* __libc_pvalloc(size_t n) __attribute__((alias("pvalloc"), copy(pvalloc)));

}  // extern "C"
