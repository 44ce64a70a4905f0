// See segregation.h.
#include "sites/segregation.h"

#include <jemalloc/jemalloc.h>
#include <sys/mman.h>

#include <cstdio>

#include "base/log.h"

namespace tmc::sites {

std::atomic<bool> g_segregating{false};
std::atomic<uintptr_t> g_cold_callers[kColdSlots];

namespace {

constexpr double kColdShare = 0.8;      // a caller this evicted becomes cold...
constexpr double kOrdinaryShare = 0.5;  // ...and ordinary again under this
constexpr uint32_t kMinSamples = 8;
// A cold caller must also stand out: its share at least this much above that of the rest
// of the sampled heap, which must hold a tenth of it. When everything is evicted (a server
// idle for a while) nothing is hotter than anything else, and segregating would only move
// allocations that are about to turn hot.
constexpr double kMinContrast = 0.3;
constexpr double kMinRestShare = 0.1;
constexpr double kMixedSiteShare = 0.1;  // a stack this big a part of its caller's bytes...
constexpr double kMixedHotShare = 0.5;   // ...evicted less than this makes the caller mixed,
                                         // and so does one that leads to another function

int g_arena = -1;
std::atomic<uint64_t> g_changes{0};

int arena_flags() { return MALLOCX_ARENA(static_cast<unsigned>(g_arena)) | MALLOCX_TCACHE_NONE; }

struct Caller {
  uintptr_t return_address;  // 0 = empty slot
  double bytes;
  double evicted;
  uint32_t samples;
  uintptr_t next_frame;  // the frame after it in its largest stack
  double next_frame_bytes;
  bool mixed;
};

// Open addressing over the snapshot's callers; twice the sites, so never full.
class CallerMap {
 public:
  static constexpr size_t kSlots = 2 * kMaxSites;
  bool init() {
    void* p = mmap(nullptr, sizeof(Caller) * kSlots, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    slots_ = static_cast<Caller*>(p);
    return true;
  }
  ~CallerMap() {
    if (slots_ != nullptr) munmap(slots_, sizeof(Caller) * kSlots);
  }
  Caller* find(uintptr_t ra, bool insert) {
    for (size_t i = cold_slot(ra) * (kSlots / kColdSlots);; i = (i + 1) % kSlots) {
      if (slots_[i].return_address == ra) return &slots_[i];
      if (slots_[i].return_address == 0) {
        if (!insert) return nullptr;
        slots_[i].return_address = ra;
        return &slots_[i];
      }
    }
  }
  Caller* slots() const { return slots_; }

 private:
  Caller* slots_ = nullptr;
};

}  // namespace

void* cold_alloc_slow(size_t n, bool zero) { return mallocx(n == 0 ? 1 : n, arena_flags() | (zero ? MALLOCX_ZERO : 0)); }
void cold_free(void* p) { dallocx(p, MALLOCX_TCACHE_NONE); }
void* cold_realloc(void* p, size_t n) { return rallocx(p, n, arena_flags()); }

void start_segregation(unsigned arena) { g_arena = static_cast<int>(arena); }
bool segregation_enabled() { return g_arena >= 0; }

void decide_cold_callers(EvictedBytesFn evicted_bytes, uint64_t min_age_ns, uint64_t now_ns) {
  if (g_arena < 0) return;
  Snapshot snap;
  CallerMap callers;
  if (!snap.take() || !callers.init()) return;
  // Per site, then per caller: the bytes of samples old enough to have been evicted if
  // never touched, and how much of them is.
  static double site_bytes[kMaxSites], site_evicted[kMaxSites];  // background thread only
  for (uint32_t i = 0; i < snap.site_count(); ++i) site_bytes[i] = site_evicted[i] = 0;
  for (size_t k = 0; k < snap.sample_count(); ++k) {
    const Sample& s = snap.sample(k);
    if (now_ns < s.alloc_ns + min_age_ns || snap.site(s.site).depth == 0) continue;
    const double bytes = s.weight * static_cast<double>(s.usable);
    site_bytes[s.site] += bytes;
    site_evicted[s.site] += s.weight * static_cast<double>(evicted_bytes(s.ptr, s.usable));
    Caller* c = callers.find(snap.site(s.site).frames[0], true);
    c->bytes += bytes;
    c->samples++;
  }
  // A caller is mixed when one of its big stacks is mostly resident, or when its big stacks
  // come from different functions: then it is a wrapper (Redis's zmalloc is the caller of
  // everything), which stands for many sites, and segregating it would move them all.
  for (uint32_t i = 0; i < snap.site_count(); ++i) {
    if (site_bytes[i] == 0) continue;
    const Site& site = snap.site(i);
    Caller* c = callers.find(site.frames[0], false);
    c->evicted += site_evicted[i];
    if (site_bytes[i] > c->next_frame_bytes) {
      c->next_frame_bytes = site_bytes[i];
      c->next_frame = site.depth > 1 ? site.frames[1] : 0;
    }
  }
  for (uint32_t i = 0; i < snap.site_count(); ++i) {
    if (site_bytes[i] == 0) continue;
    const Site& site = snap.site(i);
    Caller* c = callers.find(site.frames[0], false);
    if (site_bytes[i] < kMixedSiteShare * c->bytes) continue;
    const bool hot = site_evicted[i] < kMixedHotShare * site_bytes[i];
    const bool elsewhere = (site.depth > 1 ? site.frames[1] : 0) != c->next_frame;
    if (hot || elsewhere) c->mixed = true;
  }
  bool any = false;
  // Cold callers whose objects are used again become ordinary; one without live samples
  // tells nothing new and stays as it is.
  for (auto& slot : g_cold_callers) {
    uintptr_t ra = slot.load(std::memory_order_relaxed);
    if (ra == 0) continue;
    const Caller* c = callers.find(ra, false);
    if (c != nullptr && c->samples >= kMinSamples && c->evicted < kOrdinaryShare * c->bytes) {
      slot.store(0, std::memory_order_relaxed);
      g_changes.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    any = true;
  }
  double all_bytes = 0, all_evicted = 0;
  for (size_t i = 0; i < CallerMap::kSlots; ++i) {
    all_bytes += callers.slots()[i].bytes;
    all_evicted += callers.slots()[i].evicted;
  }
  for (size_t i = 0; i < CallerMap::kSlots; ++i) {
    const Caller& c = callers.slots()[i];
    if (c.return_address == 0 || c.samples < kMinSamples || c.mixed || c.evicted < kColdShare * c.bytes) continue;
    const double rest_bytes = all_bytes - c.bytes;
    if (rest_bytes < kMinRestShare * all_bytes) continue;
    if (c.evicted / c.bytes - (all_evicted - c.evicted) / rest_bytes < kMinContrast) continue;
    auto& slot = g_cold_callers[cold_slot(c.return_address)];
    uintptr_t held = slot.load(std::memory_order_relaxed);
    if (held == c.return_address) continue;
    if (held != 0) continue;  // another cold caller has the slot: this one stays ordinary
    slot.store(c.return_address, std::memory_order_relaxed);
    g_changes.fetch_add(1, std::memory_order_relaxed);
    any = true;
  }
  g_segregating.store(any, std::memory_order_relaxed);
}

void fill_segregation_stats(tmc_stats* out) {
  if (g_arena < 0) return;
  uint64_t cold = 0;
  for (auto& slot : g_cold_callers) cold += slot.load(std::memory_order_relaxed) != 0;
  out->segregated_callers = cold;
  out->segregation_changes = g_changes.load(std::memory_order_relaxed);
  // jemalloc's figures as of the stats epoch the runtime's source refreshed.
  size_t small = 0, large = 0, len = sizeof(size_t);
  char name[64];
  snprintf(name, sizeof(name), "stats.arenas.%d.small.allocated", g_arena);
  mallctl(name, &small, &len, nullptr, 0);
  len = sizeof(size_t);
  snprintf(name, sizeof(name), "stats.arenas.%d.large.allocated", g_arena);
  mallctl(name, &large, &len, nullptr, 0);
  out->cold_arena_bytes = small + large;
}

}  // namespace tmc::sites
