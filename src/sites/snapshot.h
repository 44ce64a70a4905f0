// A copy of the allocation-site tables, taken under the sampler's lock and read without it
// (the report, segregation's decisions). Its memory is mapped for the copy and unmapped
// with it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sites/site_table.h"

namespace tmc::sites {

// Bytes of [addr, addr + len) on pages that are evicted now (compressed, same-filled or
// being compressed). Supplied by the runtime, which knows the page states.
using EvictedBytesFn = uint64_t (*)(uintptr_t addr, uint64_t len);

class Snapshot {
 public:
  Snapshot() = default;
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // Copies the tables (samples that arrive between sizing the copy and taking it may be
  // left out). False if sampling is off or there is no memory for the copy.
  bool take();

  uint32_t site_count() const { return site_count_; }
  const Site& site(uint32_t i) const { return sites_[i]; }
  size_t sample_count() const { return sample_count_; }
  const Sample& sample(size_t i) const { return samples_[i]; }

  // Per site: the estimated bytes of its live samples on evicted pages (site_count()
  // entries, owned by the snapshot).
  const double* evicted_bytes(EvictedBytesFn fn);

 private:
  void* memory_ = nullptr;
  size_t bytes_ = 0;
  Site* sites_ = nullptr;
  uint32_t site_count_ = 0;
  Sample* samples_ = nullptr;
  size_t sample_max_ = 0;
  size_t sample_count_ = 0;
  double* evicted_ = nullptr;
};

}  // namespace tmc::sites
