// See snapshot.h.
#include "sites/snapshot.h"

#include <sys/mman.h>

#include "sites/sampler.h"

namespace tmc::sites {

Snapshot::~Snapshot() {
  if (memory_ != nullptr) munmap(memory_, bytes_);
}

bool Snapshot::take() {
  if (!enabled() || memory_ != nullptr) return false;
  uint64_t live = 0;
  with_table([](const SiteTable& t, void* arg) { *static_cast<uint64_t*>(arg) = t.live_samples(); }, &live);
  sample_max_ = live + live / 4 + 64;
  bytes_ = sizeof(Site) * kMaxSites + sizeof(Sample) * sample_max_ + sizeof(double) * kMaxSites;
  void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  memory_ = p;
  sites_ = static_cast<Site*>(p);
  samples_ = reinterpret_cast<Sample*>(sites_ + kMaxSites);
  with_table(
      [](const SiteTable& t, void* arg) {
        auto* self = static_cast<Snapshot*>(arg);
        self->site_count_ = t.site_count();
        for (uint32_t i = 0; i < self->site_count_; ++i) self->sites_[i] = t.site(i);
        self->sample_count_ = t.copy_samples(self->samples_, self->sample_max_);
      },
      this);
  return true;
}

const double* Snapshot::evicted_bytes(EvictedBytesFn fn) {
  if (evicted_ != nullptr) return evicted_;
  evicted_ = reinterpret_cast<double*>(samples_ + sample_max_);  // zero: fresh mapping
  for (size_t i = 0; i < sample_count_; ++i) {
    const Sample& s = samples_[i];
    if (fn == nullptr || s.usable == 0) continue;
    evicted_[s.site] += s.weight * static_cast<double>(fn(s.ptr, s.usable));
  }
  return evicted_;
}

}  // namespace tmc::sites
