// See site_table.h.
#include "sites/site_table.h"

#include <sys/mman.h>

#include <cstring>

namespace tmc::sites {
namespace {

constexpr uintptr_t kPage = 4096;

void* map_zeroed(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

constexpr size_t kSiteIndexSlots = 2 * kMaxSites;

size_t site_home(uint64_t hash) { return static_cast<size_t>(hash >> 32) & (kSiteIndexSlots - 1); }

// The pages a sample marks in the page filter: [first, last].
void filter_pages(const Sample& s, uintptr_t* first, uintptr_t* last) {
  *first = s.ptr & ~(kPage - 1);
  uintptr_t end = (s.ptr + (s.usable == 0 ? 1 : s.usable) - 1) & ~(kPage - 1);
  uintptr_t cap = *first + (kMaxFilterPages - 1) * kPage;
  *last = end < cap ? end : cap;
}

void bump(uint8_t* counter, int delta) {
  uint8_t v = __atomic_load_n(counter, __ATOMIC_RELAXED);
  if (v == 255) return;  // saturated: stays a maybe
  if (delta < 0 && v == 0) return;
  __atomic_store_n(counter, static_cast<uint8_t>(v + delta), __ATOMIC_RELAXED);
}

}  // namespace

bool SiteTable::init() {
  if (sites_ != nullptr) return true;
  sites_ = static_cast<Site*>(map_zeroed(sizeof(Site) * kMaxSites));
  site_index_ = static_cast<uint32_t*>(map_zeroed(sizeof(uint32_t) * kSiteIndexSlots));
  samples_ = static_cast<Sample*>(map_zeroed(sizeof(Sample) * kFirstSampleSlots));
  if (sites_ == nullptr || site_index_ == nullptr || samples_ == nullptr) {
    sites_ = nullptr;  // the rest is lost: this happens only when mmap fails at start
    return false;
  }
  sample_slots_ = kFirstSampleSlots;
  site_count_ = 1;  // site 0: "other", the stacks that found the array full
  return true;
}

uint32_t SiteTable::site_for(const uintptr_t* frames, uint32_t depth, uint64_t stack_hash) {
  if (depth > kMaxFrames) depth = kMaxFrames;
  for (size_t i = site_home(stack_hash);; i = (i + 1) & (kSiteIndexSlots - 1)) {
    uint32_t id = site_index_[i];
    if (id == 0) {
      if (site_count_ == kMaxSites) return kOtherSite;
      id = site_count_++;
      Site& s = sites_[id];
      s.stack_hash = stack_hash;
      s.depth = depth;
      memcpy(s.frames, frames, depth * sizeof(uintptr_t));
      site_index_[i] = id + 1;
      return id;
    }
    const Site& s = sites_[id - 1];
    if (s.stack_hash == stack_hash && s.depth == depth && memcmp(s.frames, frames, depth * sizeof(uintptr_t)) == 0)
      return id - 1;
  }
}

void SiteTable::mark(const Sample& s, int delta) {
  bump(&ptr_filter_[ptr_slot(s.ptr)], delta);
  uintptr_t first, last;
  filter_pages(s, &first, &last);
  for (uintptr_t page = first; page <= last; page += kPage) bump(&page_filter_[page_slot(page)], delta);
}

void SiteTable::count_freed(const Sample& s, uint64_t now_ns) {
  Site& site = sites_[s.site];
  site.live_samples--;
  site.live_objects -= s.weight;
  site.live_bytes -= s.weight * static_cast<double>(s.usable);
  site.freed_objects += s.weight;
  site.lifetime_ns += s.weight * static_cast<double>(now_ns > s.alloc_ns ? now_ns - s.alloc_ns : 0);
  if (site.live_samples == 0) site.live_objects = site.live_bytes = 0;  // no rounding residue
}

Sample* SiteTable::find(uintptr_t ptr) {
  for (size_t i = sample_home(ptr);; i = (i + 1) & (sample_slots_ - 1)) {
    if (samples_[i].ptr == ptr) return &samples_[i];
    if (samples_[i].ptr == 0) return nullptr;
  }
}

// Linear probing's deletion without tombstones: entries after the hole that may move into
// it (their home is not cyclically within (hole, their slot]) do so, until an empty slot.
void SiteTable::erase_slot(size_t hole) {
  const size_t mask = sample_slots_ - 1;
  for (size_t j = (hole + 1) & mask; samples_[j].ptr != 0; j = (j + 1) & mask) {
    size_t home = sample_home(samples_[j].ptr);
    bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (stays) continue;
    samples_[hole] = samples_[j];
    hole = j;
  }
  samples_[hole] = Sample{};
  live_--;
}

bool SiteTable::grow_samples() {
  size_t slots = sample_slots_ * 2;
  auto* bigger = static_cast<Sample*>(map_zeroed(sizeof(Sample) * slots));
  if (bigger == nullptr) return false;
  Sample* old = samples_;
  size_t old_slots = sample_slots_;
  samples_ = bigger;
  sample_slots_ = slots;
  for (size_t i = 0; i < old_slots; ++i) {
    if (old[i].ptr == 0) continue;
    size_t j = sample_home(old[i].ptr);
    while (samples_[j].ptr != 0) j = (j + 1) & (slots - 1);
    samples_[j] = old[i];
  }
  munmap(old, sizeof(Sample) * old_slots);
  return true;
}

bool SiteTable::add_sample(uintptr_t ptr, uint64_t usable, double weight, uint32_t site, uint64_t now_ns) {
  remove_sample(ptr, now_ns);
  if ((live_ + 1) * 2 > sample_slots_ && !grow_samples()) return false;
  size_t i = sample_home(ptr);
  while (samples_[i].ptr != 0) i = (i + 1) & (sample_slots_ - 1);
  samples_[i] = Sample{ptr, usable, weight, now_ns, site};
  live_++;
  Site& s = sites_[site];
  s.live_samples++;
  s.samples_total++;
  s.live_objects += weight;
  s.live_bytes += weight * static_cast<double>(usable);
  mark(samples_[i], +1);
  return true;
}

bool SiteTable::remove_sample(uintptr_t ptr, uint64_t now_ns) {
  if (ptr == 0) return false;  // free(NULL); 0 marks an empty slot
  Sample* s = find(ptr);
  if (s == nullptr) return false;
  mark(*s, -1);
  count_freed(*s, now_ns);
  erase_slot(static_cast<size_t>(s - samples_));
  return true;
}

void SiteTable::attribute_faults(const uintptr_t* pages, size_t n) {
  if (n == 0) return;
  for (size_t i = 0; i < sample_slots_; ++i) {
    const Sample& s = samples_[i];
    if (s.ptr == 0) continue;
    uintptr_t first, last;
    filter_pages(s, &first, &last);
    size_t lo = 0, hi = n;  // the first fault at or after `first`
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (pages[mid] < first) lo = mid + 1;
      else hi = mid;
    }
    size_t hits = 0;
    for (size_t k = lo; k < n && pages[k] <= last; ++k) hits++;
    if (hits != 0) sites_[s.site].faults += s.weight * static_cast<double>(hits);
  }
}

size_t SiteTable::copy_samples(Sample* out, size_t max) const {
  size_t n = 0;
  for (size_t i = 0; i < sample_slots_ && n < max; ++i)
    if (samples_[i].ptr != 0) out[n++] = samples_[i];
  return n;
}

size_t SiteTable::mapped_bytes() const {
  if (sites_ == nullptr) return 0;
  return sizeof(Site) * kMaxSites + sizeof(uint32_t) * kSiteIndexSlots + sizeof(Sample) * sample_slots_ +
         sizeof(ptr_filter_) + sizeof(page_filter_);
}

bool SiteTable::is_valid() const {
  uint64_t per_site = 0;
  for (uint32_t i = 0; i < site_count_; ++i) per_site += sites_[i].live_samples;
  if (per_site != live_) return false;
  size_t seen = 0;
  for (size_t i = 0; i < sample_slots_; ++i) {
    const Sample& s = samples_[i];
    if (s.ptr == 0) continue;
    seen++;
    if (s.site >= site_count_) return false;
    if (ptr_filter_[ptr_slot(s.ptr)] == 0) return false;
    uintptr_t first, last;
    filter_pages(s, &first, &last);
    for (uintptr_t page = first; page <= last; page += kPage)
      if (page_filter_[page_slot(page)] == 0) return false;
    // Reachable from its home slot (no hole in between).
    for (size_t j = sample_home(s.ptr); j != i; j = (j + 1) & (sample_slots_ - 1))
      if (samples_[j].ptr == 0) return false;
  }
  return seen == live_;
}

}  // namespace tmc::sites
