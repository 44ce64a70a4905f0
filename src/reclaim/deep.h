// Recompression of long-idle blobs (TMC_DEEP_AGE), as zram's recompress does for idle
// pages: a page compressed for TMC_DEEP_AGE is likely to stay cold, so its blob is made
// again with a slower, denser codec (zstd at TMC_DEEP_LEVEL, 6 by default) and a larger
// dictionary (512 KiB of pages sampled from all over the heap). On Redis heap pages that
// is 3.30x against 2.80x for zstd -1 and 2.05x for lz4 (bench/results/dictionary.md), for
// about 3 times zstd -1's compression time, paid once per page, in the background.
//
// It runs on the reclaimer's thread between passes, within TMC_CPU_BUDGET, never while
// faults want room, in a fork window or with eviction suspended, nor above TMC_TARGET while
// eviction can still make room (Reclaimer::recompress_idle). Each step takes up to
// kBatch candidates under reclaim_lock_:
//
//   1. Retain the old blob (a reference of our own), decode it, compress it deep, check
//      the round trip, store the new blob. A blob that does not shrink by 5% (kKeepPercent)
//      is left as it is and flagged kFlagDeepTried.
//   2. CAS Compressed → Evicting (payload: the old handle). From here on a fault on the
//      page waits (the reclaimer owns it), and a purge flags it kFlagPurged.
//   3. Wait until the fault thread has loaded another page word or is between sections
//      (Engine::fault_word_loads_): a fault that loaded the old word before step 2 has
//      then decoded the old blob, installed the page and failed its CAS.
//   4. The page tables decide: a page present now was put back by such a fault; it becomes
//      Resident and both blobs go (deep_given_back). Otherwise the word becomes Compressed
//      with the new blob and kFlagDeep, and the old blob goes. A purge meanwhile leaves the
//      page not there (Resident, zap pending) and frees both.
//
// Only the fault thread frees a Compressed page's blob otherwise, and only after its CAS
// on the word: step 2 makes that CAS fail, so the old blob is never freed under a fault
// that reads it, and our own reference covers the time before step 2.
//
// The deep dictionary is made first, in two sweeps over the candidates: one counts them,
// the next decodes every n-th (n = candidates / 128) into it, so that its 512 KiB come
// from all over the cold heap, not from the part that went cold first (sampling waits
// until at least half of the pool's pages, and 128 at least, are candidates). Then it is
// sealed and never changed (forked children inherit it), and recompression sweeps from
// the heap's start.
//
// Recompression works in bulk: a sweep that finds fewer than bulk_pages() candidates
// drops the dictionary's compression tables (Dictionary::drop_compression_tables: 4 of
// its 4.5 MiB at level 6, 16 of 16.5 at level 9); sweeps then only count candidates, and
// the tables are built again (a few ms) once one finds a bulk. Pages that come back and go
// cold again wait at TMC_CODEC's level until then.
#pragma once

#include <cstdint>

#include "codec/codec.h"
#include "heap/page_state.h"
#include "heap/regions.h"
#include "platform/pagemap.h"

namespace tmc::reclaim {

class Engine;

class DeepRecompressor {
 public:
  explicit DeepRecompressor(Engine& e) : e_(e) {}

  // decoder: the reclaimer's codec (TMC_CODEC), to decode the blobs it made; pagemap: the
  // reclaimer's. False (logged) if TMC_DEEP_AGE is set but the codec or memory is missing:
  // recompression is then off.
  bool init(codec::PageCodec* decoder, const platform::Pagemap* pagemap);
  bool enabled() const { return enabled_; }

  // One step at epoch `now`: takes up to kBatch candidates (or fills the dictionary) under
  // reclaim_lock_. Returns false when this sweep over the heap is done (the next call
  // starts a new one) or nothing may be done now.
  bool step(uint32_t now);

 private:
  static constexpr uint32_t kBatch = 16;
  // Pages of the page table looked at per step at most, so reclaim_lock_ is held briefly.
  static constexpr uint32_t kScanPerStep = 8192;
  // A deep blob must be at most this share (percent) of the old one, or it is not kept.
  static constexpr uint32_t kKeepPercent = 95;
  static constexpr uint64_t kBulkMinPages = 256;

  struct Taken {
    uintptr_t page;
    heap::PageEntry* entry;
    heap::PageWord old;     // the Compressed word before the take
    uint32_t old_size;
    uint32_t new_handle;
    uint32_t new_size;
  };

  bool candidate(heap::PageWord w, uint32_t now) const;
  // Moves the cursor over at most kScanPerStep pages, collecting candidates into cand_
  // (at most kBatch), or with count_only counting them into counted_. Returns false once
  // the cursor wrapped (the sweep is over).
  bool scan(uint32_t now, bool count_only = false);
  bool fill_dictionary(uint32_t now);
  bool await_bulk(uint32_t now);
  // Candidates a sweep must find for the compression tables to be kept or built again:
  // 1% of the compressed pages, kBulkMinPages at least.
  uint64_t bulk_pages() const;
  uint32_t decode_old(heap::PageWord w);
  bool take(uintptr_t page, heap::PageEntry* entry, heap::PageWord w, Taken* out);
  static heap::PageWord taken_word(heap::PageWord old);
  void wait_for_fault_loads();
  void put_back(const Taken& t);
  void leave_purged(const Taken& t);
  void settle(const Taken& t, bool present, uint32_t now);

  Engine& e_;
  codec::PageCodec* decoder_ = nullptr;
  const platform::Pagemap* pagemap_ = nullptr;
  codec::PageCodec codec_;  // zstd at TMC_DEEP_LEVEL
  bool enabled_ = false;
  uint32_t age_epochs_ = 0;
  char* page_ = nullptr;   // a decoded page
  char* check_ = nullptr;  // the new blob decoded again
  char* blob_ = nullptr;   // the new blob (2 pages)
  heap::PageSweep sweep_;
  // Candidates of this step.
  uintptr_t cand_page_[kBatch] = {};
  heap::PageEntry* cand_entry_[kBatch] = {};
  uint32_t cand_count_ = 0;
  uint64_t sweep_found_ = 0;  // candidates this sweep so far (deep_sweep_candidates)
  // Dictionary sampling: the counting sweep's count, then every stride-th candidate of
  // the sampling sweep (stride 0: counting).
  uint64_t counted_ = 0;
  uint64_t sample_stride_ = 0;
  uint64_t sample_seen_ = 0;
  bool dict_failed_ = false;
};

}  // namespace tmc::reclaim
