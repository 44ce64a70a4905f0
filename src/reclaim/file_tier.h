// The file tier's mover (TMC_FILE_AGE): on the reclaimer's thread between passes, it
// sweeps the heap's page table for Compressed pages evicted at least TMC_FILE_AGE ago whose
// blob is still in memory, and moves those blobs to the file (pool/file_store.h). Nothing
// about the page changes: its word keeps the same handle, and only where the blob's bytes
// live does (Pool::commit_to_file). So the page state machine, dedup's sharing and the
// fork window need nothing new; a fault reads the blob with Pool::fetch.
//
// Each step, under reclaim_lock_ (no fork can start, and this thread alone stores, moves
// and compacts blobs, so no handle freed meanwhile is handed out again):
//   1. write the candidates' blobs to the file, without pool_lock_ (faults go on reading
//      them from memory), then write them back and drop them from the page cache
//      (FileStore::flush);
//   2. under pool_lock_ (no fault is reading a blob), point each handle at its file copy
//      and free its slot; a blob a fault or a purge released meanwhile loses its copy
//      instead (Pool::commit_to_file).
// A blob that cannot be written (TMC_FILE_MAX reached, a full or failing disk) stays in
// memory; the step stops there and the next sweep tries again.
#pragma once

#include <cstdint>

#include "heap/page_state.h"
#include "heap/regions.h"

namespace tmc::reclaim {

class Engine;

class FileMover {
 public:
  explicit FileMover(Engine& e) : e_(e) {}

  // Off unless TMC_FILE_AGE is set and the engine's file store took its directory.
  void init();
  bool enabled() const { return enabled_; }

  // One step at epoch `now`; false when this sweep over the heap is done (the next call
  // starts a new one), nothing may be done now, or a write failed.
  bool step(uint32_t now);

 private:
  static constexpr uint32_t kBatch = 64;
  static constexpr uint32_t kScanPerStep = 16384;

  bool candidate(heap::PageWord w, uint32_t now) const;
  // Moves the cursor over at most kScanPerStep pages, collecting candidates' handles.
  // Returns false once the cursor wrapped.
  bool scan(uint32_t now);
  // Steps 1-3 for the candidates collected; false if a write failed.
  bool move_batch();

  Engine& e_;
  bool enabled_ = false;
  uint32_t age_epochs_ = 0;
  heap::PageSweep sweep_;
  uint32_t handles_[kBatch] = {};
  uint32_t count_ = 0;
  int last_errno_ = 0;  // the last write error logged, so each kind is said once
};

}  // namespace tmc::reclaim
