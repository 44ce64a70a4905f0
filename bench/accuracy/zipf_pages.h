// The access sequence of `bench_hotset --dist zipf`: page ranks drawn from Zipf(s) over every
// page of the heap (loadgen's rejection-inversion sampler), rank r meaning page
// page_of_rank(r) of a seeded random permutation, so the popular pages lie scattered over
// the heap and not in a few 2 MiB blocks. The sequence is a function of the seed alone: the
// accessor thread draws it live and the LRU simulation (lru_sim.h) draws it again, access
// for access, after the run.
#pragma once

#include <cstddef>
#include <cstdint>

#include "outside_heap.h"
#include "key_dist.h"
#include "rng.h"

namespace acc {

using tmc::loadgen::Rng;

// One access: which page, and 64 random bits the accessor takes the word offset and the
// read/write choice from (the simulation ignores them but must draw them too).
struct Access {
  uint32_t page;
  uint64_t bits;
};

// A running fingerprint of the pages of a sequence: the accessor's and the replay's must
// agree at the same access count.
inline uint64_t zipf_fingerprint(uint64_t h, uint32_t page) { return (h ^ page) * 0x100000001b3ull + 1; }

// Popularity bands of the report: ranks [edge[b-1], edge[b]) of the pages, as shares of all
// pages (the first band starts at rank 0).
inline constexpr int kBands = 7;
inline constexpr double kBandEdges[kBands] = {0.001, 0.01, 0.1, 0.3, 0.5, 0.7, 1.0};

class ZipfPages {
 public:
  // Builds the permutation (bookkeeping outside the managed heap: 8 bytes a page).
  ZipfPages(size_t pages, double s, uint64_t seed);

  // A generator at the start of the sequence. The accessor and the simulation each take one.
  Rng stream() const { return Rng(stream_seed_); }
  // The next access of the sequence. Out of line on purpose: the floating-point steps of
  // the sampler then run as the same machine code in the thread and in the replay.
  Access next(Rng& rng) const;

  size_t pages() const { return pages_; }
  double s() const { return s_; }
  uint32_t page_of_rank(size_t r) const { return page_of_rank_[r]; }
  uint32_t rank_of_page(size_t p) const { return rank_of_page_[p]; }
  int band_of_page(size_t p) const;
  // Pages in band b, and the share of accesses that fall on them (from 1/k^s exactly).
  size_t band_pages(int b) const { return band_end_[b] - (b == 0 ? 0 : band_end_[b - 1]); }
  double band_access_share(int b) const { return band_share_[b]; }

 private:
  size_t pages_;
  double s_;
  uint64_t stream_seed_;
  tmc::loadgen::ZipfSampler zipf_;
  OutsideArray<uint32_t> page_of_rank_, rank_of_page_;
  size_t band_end_[kBands] = {};  // first rank past band b
  double band_share_[kBands] = {};
};

}  // namespace acc
