// The C++ operator new/delete family. Allocating forms forward to jemalloc's own operators,
// which already implement the standard's new_handler loop and std::bad_alloc; deleting
// forms forward to free/sdallocx. Built with -fexceptions so bad_alloc unwinds through.
#include <new>

#include "base/compiler.h"
#include "runtime/jemalloc_api.h"
#include "runtime/thread_counters.h"
#include "site_paths.h"

using tmc::runtime::CallKind;
using tmc::runtime::count_call;
using tmc::runtime::g_je;
using tmc::preload::site_alloc;
using tmc::preload::site_free;
using tmc::preload::site_free_sized;

namespace {

TMC_ALWAYS_INLINE void forward_free(void* p) {
  count_call(CallKind::kFree);
  if (site_free(p)) return;
  g_je.free(p);
}

TMC_ALWAYS_INLINE void forward_sized_free(void* p, std::size_t n) {
  count_call(CallKind::kFree);
  bool unsized;
  if (site_free_sized(p, &unsized)) return;
  if (TMC_UNLIKELY(unsized)) return g_je.free(p);
  if (TMC_LIKELY(p != nullptr)) g_je.sdallocx(p, n, 0);
}

TMC_ALWAYS_INLINE void forward_aligned_free(void* p, std::align_val_t a) {
  count_call(CallKind::kFree);
  if (site_free(p)) return;
  g_je.op_delete_aligned(p, a);
}

}  // namespace

TMC_EXPORT void* operator new(std::size_t n) {
  count_call(CallKind::kMalloc);
  if (void* p = site_alloc(__builtin_return_address(0), n, 0)) return p;
  return g_je.op_new(n);
}
TMC_EXPORT void* operator new[](std::size_t n) {
  count_call(CallKind::kMalloc);
  if (void* p = site_alloc(__builtin_return_address(0), n, 0)) return p;
  return g_je.op_new_array(n);
}
TMC_EXPORT void* operator new(std::size_t n, const std::nothrow_t& t) noexcept {
  count_call(CallKind::kMalloc);
  if (void* p = site_alloc(__builtin_return_address(0), n, 0)) return p;
  return g_je.op_new_nothrow(n, t);
}
TMC_EXPORT void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  count_call(CallKind::kMalloc);
  if (void* p = site_alloc(__builtin_return_address(0), n, 0)) return p;
  return g_je.op_new_array_nothrow(n, t);
}
TMC_EXPORT void* operator new(std::size_t n, std::align_val_t a) {
  count_call(CallKind::kMalloc);
  if (void* p = site_alloc(__builtin_return_address(0), n, static_cast<size_t>(a))) return p;
  return g_je.op_new_aligned(n, a);
}
TMC_EXPORT void* operator new[](std::size_t n, std::align_val_t a) {
  count_call(CallKind::kMalloc);
  if (void* p = site_alloc(__builtin_return_address(0), n, static_cast<size_t>(a))) return p;
  return g_je.op_new_array_aligned(n, a);
}
TMC_EXPORT void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept {
  count_call(CallKind::kMalloc);
  if (void* p = site_alloc(__builtin_return_address(0), n, static_cast<size_t>(a))) return p;
  return g_je.op_new_aligned_nothrow(n, a, t);
}
TMC_EXPORT void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept {
  count_call(CallKind::kMalloc);
  if (void* p = site_alloc(__builtin_return_address(0), n, static_cast<size_t>(a))) return p;
  return g_je.op_new_array_aligned_nothrow(n, a, t);
}

TMC_EXPORT void operator delete(void* p) noexcept { forward_free(p); }
TMC_EXPORT void operator delete[](void* p) noexcept { forward_free(p); }
TMC_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { forward_free(p); }
TMC_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { forward_free(p); }
TMC_EXPORT void operator delete(void* p, std::size_t n) noexcept { forward_sized_free(p, n); }
TMC_EXPORT void operator delete[](void* p, std::size_t n) noexcept { forward_sized_free(p, n); }
TMC_EXPORT void operator delete(void* p, std::align_val_t a) noexcept { forward_aligned_free(p, a); }
TMC_EXPORT void operator delete[](void* p, std::align_val_t a) noexcept { forward_aligned_free(p, a); }
TMC_EXPORT void operator delete(void* p, std::align_val_t a, const std::nothrow_t&) noexcept {
  forward_aligned_free(p, a);
}
TMC_EXPORT void operator delete[](void* p, std::align_val_t a, const std::nothrow_t&) noexcept {
  forward_aligned_free(p, a);
}
TMC_EXPORT void operator delete(void* p, std::size_t n, std::align_val_t a) noexcept {
  count_call(CallKind::kFree);
  bool unsized;
  if (site_free_sized(p, &unsized)) return;
  if (TMC_UNLIKELY(unsized)) return g_je.free(p);
  g_je.op_delete_sized_aligned(p, n, a);
}
TMC_EXPORT void operator delete[](void* p, std::size_t n, std::align_val_t a) noexcept {
  count_call(CallKind::kFree);
  bool unsized;
  if (site_free_sized(p, &unsized)) return;
  if (TMC_UNLIKELY(unsized)) return g_je.free(p);
  g_je.op_delete_sized_aligned(p, n, a);
}
