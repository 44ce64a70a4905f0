// See runtime.h for the start-up order and jemalloc_api.h for why jemalloc's entry
// points are looked up at run time.
#include <dlfcn.h>
#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "base/log.h"
#include "base/spin_lock.h"
#include "control/options.h"
#include "control/stats.h"
#include "heap/extent_hooks.h"
#include "platform/elf_symbols.h"
#include "platform/proc_fs.h"
#include "reclaim/engine.h"
#include "runtime/background.h"
#include "runtime/crash_restore.h"
#include "runtime/fork.h"
#include "runtime/jemalloc_api.h"
#include "runtime/runtime.h"
#include "runtime/thread_counters.h"
#include "runtime/thread_exit.h"
#include "sites/sampler.h"
#include "sites/segregation.h"

namespace tmc::runtime {

alignas(64) char g_bootstrap_buf[kBootstrapBytes];

namespace {

enum class State : int { kUninit, kReady };

constinit std::atomic<int> g_state{static_cast<int>(State::kUninit)};
std::atomic<long> g_init_owner{0};  // thread id running start-up, 0 if none
SpinLock g_init_lock;
bool g_active = false;
constinit heap::RegionSet g_regions;

// ---- bootstrap buffer: serves allocations made while start-up looks jemalloc up --------

size_t g_bootstrap_used = 0;  // guarded by g_init_lock (only the start-up thread uses it)
constexpr size_t kHeader = 16;

void* bootstrap_alloc(size_t size, size_t alignment) {
  if (alignment < kHeader) alignment = kHeader;
  size_t start = (g_bootstrap_used + kHeader + alignment - 1) & ~(alignment - 1);
  if (size > kBootstrapBytes || start + size > kBootstrapBytes) {
    log::warn().str("start-up needed more than the bootstrap buffer; aborting").flush();
    abort();
  }
  memcpy(g_bootstrap_buf + start - sizeof(size_t), &size, sizeof(size_t));
  g_bootstrap_used = start + size;
  return g_bootstrap_buf + start;
}

// ---- bootstrap entry points: the initial values of g_je --------------------------------

void* boot_malloc(size_t n) { return ensure_ready() ? g_je.malloc(n) : bootstrap_alloc(n, 16); }
void* boot_calloc(size_t n, size_t m) {
  if (ensure_ready()) return g_je.calloc(n, m);
  size_t total;
  if (__builtin_mul_overflow(n, m, &total)) return errno = ENOMEM, nullptr;
  return bootstrap_alloc(total, 16);  // the buffer is zero and never reused
}
void* boot_realloc(void* p, size_t n) {
  if (ensure_ready()) return g_je.realloc(p, n);
  void* q = bootstrap_alloc(n, 16);
  if (p != nullptr) {
    size_t old = bootstrap_usable_size(p);
    memcpy(q, p, old < n ? old : n);
  }
  return q;
}
void boot_free(void* p) {
  if (ensure_ready()) g_je.free(p);  // bootstrap pointers never get here (see free())
}
int boot_posix_memalign(void** out, size_t a, size_t n) {
  if (ensure_ready()) return g_je.posix_memalign(out, a, n);
  *out = bootstrap_alloc(n, a);
  return 0;
}
void* boot_aligned_alloc(size_t a, size_t n) {
  return ensure_ready() ? g_je.aligned_alloc(a, n) : bootstrap_alloc(n, a);
}
void* boot_memalign(size_t a, size_t n) {
  return ensure_ready() ? g_je.memalign(a, n) : bootstrap_alloc(n, a);
}
void* boot_valloc(size_t n) { return ensure_ready() ? g_je.valloc(n) : bootstrap_alloc(n, 4096); }
size_t boot_usable_size(void* p) { return ensure_ready() ? g_je.malloc_usable_size(p) : 0; }
void boot_sdallocx(void* p, size_t n, int f) {
  if (ensure_ready()) g_je.sdallocx(p, n, f);
}

// The C++ operators are never used by start-up itself, so their bootstrap versions only
// need to finish start-up and forward.
template <auto Member, typename R, typename... A>
R boot_forward(A... a) noexcept(false) {
  ensure_ready();
  return (g_je.*Member)(a...);
}
template <auto Member, typename R, typename... A>
R boot_forward_noexcept(A... a) noexcept {
  ensure_ready();
  return (g_je.*Member)(a...);
}

// ---- start-up ---------------------------------------------------------------------------

template <typename F>
bool lookup(const char* name, F* out) {
  // Any jemalloc-only symbol we link directly tells the lookup which object to search.
  void* sym = platform::find_symbol_in_object_of(reinterpret_cast<void*>(&mallctl), name);
  if (sym == nullptr) return false;
  *out = reinterpret_cast<F>(sym);
  return true;
}

// See platform/elf_symbols.h for why this does not use dlopen/dlsym.
JemallocApi resolve_jemalloc_or_die() {
  JemallocApi api{};
  bool ok = lookup("malloc", &api.malloc) && lookup("calloc", &api.calloc) &&
            lookup("realloc", &api.realloc) && lookup("free", &api.free) &&
            lookup("posix_memalign", &api.posix_memalign) &&
            lookup("aligned_alloc", &api.aligned_alloc) && lookup("memalign", &api.memalign) &&
            lookup("valloc", &api.valloc) && lookup("malloc_usable_size", &api.malloc_usable_size) &&
            lookup("sdallocx", &api.sdallocx) && lookup("_Znwm", &api.op_new) &&
            lookup("_ZnwmRKSt9nothrow_t", &api.op_new_nothrow) &&
            lookup("_ZnwmSt11align_val_t", &api.op_new_aligned) &&
            lookup("_ZnwmSt11align_val_tRKSt9nothrow_t", &api.op_new_aligned_nothrow) &&
            lookup("_Znam", &api.op_new_array) && lookup("_ZnamRKSt9nothrow_t", &api.op_new_array_nothrow) &&
            lookup("_ZnamSt11align_val_t", &api.op_new_array_aligned) &&
            lookup("_ZnamSt11align_val_tRKSt9nothrow_t", &api.op_new_array_aligned_nothrow) &&
            lookup("_ZdlPvSt11align_val_t", &api.op_delete_aligned) &&
            lookup("_ZdlPvmSt11align_val_t", &api.op_delete_sized_aligned);
  if (!ok) {
    // libjemalloc.so.2 is libtmc.so's own dependency, so this means a broken install.
    log::warn().str("cannot find jemalloc's entry points in libjemalloc.so.2; aborting").flush();
    abort();
  }
  return api;
}

// The stats this module owns: call counts, jemalloc's live bytes, regions, RSS.
void fill_runtime_stats(tmc_stats* out) {
  CallTotals calls = call_totals();
  out->malloc_calls = calls.malloc_calls;
  out->realloc_calls = calls.realloc_calls;
  out->free_calls = calls.free_calls;
  out->rss_bytes = platform::process_rss_bytes();
  uint64_t epoch = 1;
  size_t allocated = 0, len = sizeof(allocated);
  mallctl("epoch", nullptr, nullptr, &epoch, sizeof(epoch));
  if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) == 0) out->heap_bytes = allocated - heap::pinned_unmanaged_bytes();
  heap::RegionTotals r = g_regions.totals();
  out->regions = r.regions;
  out->reserved_bytes = r.reserved;
  out->mapped_bytes = r.handed;
  platform::KsmStat ksm;
  if (control::option_bool(control::OptionId::ksm) && platform::process_ksm_stat(&ksm)) {
    out->ksm_merging_pages = ksm.merging_pages;
    out->ksm_profit_bytes = ksm.process_profit > 0 ? static_cast<uint64_t>(ksm.process_profit) : 0;
  }
}

// TMC_KSM: the heap is offered to KSM; ksmd's state is the machine's, so say once when
// nothing will merge.
void set_up_ksm() {
  if (!control::option_bool(control::OptionId::ksm)) return;
  int state = platform::ksm_daemon_state();
  if (state < 0) {
    log::warn().str("TMC_KSM=1, but this kernel has no KSM (/sys/kernel/mm/ksm/run is missing); nothing will be merged").flush();
    return;
  }
  g_regions.set_mergeable(true);
  if (state != 1)
    log::warn().str("TMC_KSM=1, but the kernel's KSM daemon is not running (/sys/kernel/mm/ksm/run is ")
        .u64(static_cast<uint64_t>(state))
        .str("); the heap is offered to it, and merging starts once an administrator writes 1 there").flush();
}

void initialize() {
  JemallocApi api = resolve_jemalloc_or_die();
  control::load_options_from_env();
  thread_counters_init();
  thread_exit_init();
  if (control::option_bool(control::OptionId::enable)) {
    g_regions.set_region_size(control::option(control::OptionId::region_size));
    set_up_ksm();
    g_active = heap::install_extent_hooks(&g_regions);
  }
  control::register_stats_source(fill_runtime_stats);
  // Registered after jemalloc's own handlers (jemalloc registered them while initialising
  // inside install_extent_hooks), so ours run first before fork and last after it.
  register_fork_handlers();
  g_je = api;
  log::info().str(g_active ? "managing the heap" : "running as a plain jemalloc pass-through").flush();
}

}  // namespace

// Constant-initialised: it is read by allocation calls that may come before any constructor.
// initialize() overwrites it whole, pointer by pointer; a thread racing with that write
// reads either a bootstrap pointer (which waits for start-up) or the final one.
constinit JemallocApi g_je = {
    boot_malloc,
    boot_calloc,
    boot_realloc,
    boot_free,
    boot_posix_memalign,
    boot_aligned_alloc,
    boot_memalign,
    boot_valloc,
    boot_usable_size,
    boot_sdallocx,
    boot_forward<&JemallocApi::op_new, void*, size_t>,
    boot_forward_noexcept<&JemallocApi::op_new_nothrow, void*, size_t, const std::nothrow_t&>,
    boot_forward<&JemallocApi::op_new_aligned, void*, size_t, std::align_val_t>,
    boot_forward_noexcept<&JemallocApi::op_new_aligned_nothrow, void*, size_t, std::align_val_t,
                          const std::nothrow_t&>,
    boot_forward<&JemallocApi::op_new_array, void*, size_t>,
    boot_forward_noexcept<&JemallocApi::op_new_array_nothrow, void*, size_t, const std::nothrow_t&>,
    boot_forward<&JemallocApi::op_new_array_aligned, void*, size_t, std::align_val_t>,
    boot_forward_noexcept<&JemallocApi::op_new_array_aligned_nothrow, void*, size_t, std::align_val_t,
                          const std::nothrow_t&>,
    boot_forward_noexcept<&JemallocApi::op_delete_aligned, void, void*, std::align_val_t>,
    boot_forward_noexcept<&JemallocApi::op_delete_sized_aligned, void, void*, size_t, std::align_val_t>,
};

size_t bootstrap_usable_size(const void* p) {
  size_t n;
  memcpy(&n, static_cast<const char*>(p) - sizeof(size_t), sizeof(size_t));
  return n;
}

bool ensure_ready() {
  if (TMC_LIKELY(g_state.load(std::memory_order_acquire) == static_cast<int>(State::kReady))) return true;
  long self = syscall(SYS_gettid);
  if (g_init_owner.load(std::memory_order_relaxed) == self) return false;  // recursion from start-up
  SpinLockGuard guard(g_init_lock);
  if (g_state.load(std::memory_order_relaxed) != static_cast<int>(State::kReady)) {
    g_init_owner.store(self, std::memory_order_relaxed);
    initialize();
    g_state.store(static_cast<int>(State::kReady), std::memory_order_release);
    g_init_owner.store(0, std::memory_order_relaxed);
  }
  return true;
}

bool is_active() { return g_active; }

namespace {

// TMC_SITES: sampling starts once the library's constructor runs (stack walks need the
// loader done), and never in a pass-through process; TMC_SEGREGATE's cold arena with it.
void start_site_sampling() {
  uint64_t interval = 0;
  if (g_active && control::option_bool(control::OptionId::sites)) interval = control::option(control::OptionId::site_sample);
  uintptr_t lo = 0, hi = 0;
  platform::code_range_of(reinterpret_cast<const void*>(&sites::sample_point), &lo, &hi);
  sites::start(interval, lo, hi);
  if (sites::enabled()) control::register_stats_source(sites::fill_stats);
  if (!control::option_bool(control::OptionId::segregate) || !g_active) return;
  if (!sites::enabled()) {
    log::warn().str("TMC_SEGREGATE=1 needs the allocation-site profile (TMC_SITES=1); segregation is off").flush();
    return;
  }
  int arena = heap::create_cold_arena();  // says why if it cannot
  if (arena < 0) return;
  sites::set_isolation(true);  // before any thread samples under it: at start-up
  sites::start_segregation(static_cast<unsigned>(arena));
  control::register_stats_source(sites::fill_segregation_stats);
}

}  // namespace

void on_library_load() {
  ensure_ready();
  start_site_sampling();
  if (!g_active) return;
  arm_thread_exit_hook();  // the main thread's; other threads arm theirs as they start
  start_background_thread();
  if (control::option_bool(control::OptionId::compress) && reclaim::engine().start(&g_regions)) {
    heap::set_purge_guard([](void* addr, size_t len) { reclaim::engine().before_purge(addr, len); }, [] { reclaim::engine().after_purge(); });
    control::register_stats_source([](tmc_stats* out) { reclaim::engine().fill_stats(out); });
    if (control::option_bool(control::OptionId::core_restore)) install_crash_restore();
  }
}

void on_library_unload() {
  if (control::option_bool(control::OptionId::stats_at_exit)) log_stats_line(log::Level::kWarn);
}

}  // namespace tmc::runtime
