// Probation (TMC_PROBATION): pages chosen for eviction leave the page tables uncompressed
// first, and are compressed only if nothing touches them for TMC_PROBATION_AGE.
//
// Reads of resident pages are invisible on this kernel (no accessed bit, no idle page
// tracking for a process), so the reclaimer's only evidence that a page is cold is that no
// fault brought it back. A page chosen wrongly under a live load comes back within
// milliseconds, and without probation that costs a compression at eviction and a
// decompression at the fault, each time. In probation the page waits in a slot of the
// staging area, Staged, as it would for the few microseconds of a batch: a fault copies it
// back from there (the fault thread's kStaged path, unchanged), and the move out cost 0.1 us
// a page in a batch. It is the software accessed bit of design.md: the fault stream tells
// which choices were wrong before any codec work is spent on them.
//
// The slots follow the staging ring in the same mapping (so a Staged word's payload names
// either), in chunks of one batch's size. Each reclaimer batch goes into the last chunk if
// it fits there, else into a new one at the tail; the chunk at the head graduates once it
// is TMC_PROBATION_AGE old, or at once when the next batch needs its room: its pages whose
// word still names their slot are compressed and committed as any batch, those that came
// back (or were purged) meanwhile are simply left, and the chunk's slots are emptied.
//
// The queue lives in engine memory and changes only under reclaim_lock_, which fork holds:
// a forked child inherits it consistent with its copies of the page words and of the
// staging area, and its reclaimer goes on graduating the chunks where the parent's left off
// (asking the page tables first: Chunk::inherited).
// Pages in probation still count in RSS (their slots hold them): the option bounds that.
#pragma once

#include <cstdint>

#include "heap/page_state.h"
#include "pool/pool.h"

namespace tmc::reclaim {

class Probation {
 public:
  static constexpr uint32_t kChunkPages = 64;  // Engine::kBatchPages: a batch always fits in one chunk

  struct Page {
    uintptr_t page;          // the application's address
    heap::PageEntry* entry;  // null: a slot the batch could not use
    uint64_t word;           // the Staged word naming this slot
    pool::Handle retained;   // the page's retained blob (TMC_RETAIN), owned by the slot
    bool retained_dict;
  };
  struct Chunk {
    uint64_t since_ns;  // when its batch moved in
    uint32_t count;     // pages [0, count) of the batch
    // Copied into a forked child: the parent served the child's first faults (the fork
    // window) without the child's words learning of it, so a page of the chunk may be in
    // place here while its word still names its slot. Graduation asks the page tables.
    bool inherited;
    Page pages[kChunkPages];
  };

  // `chunks` chunks of slots from staging slot `first_slot` on; false without memory.
  bool init(uint32_t chunks, uint32_t first_slot);
  bool enabled() const { return chunk_count_ != 0; }
  uint32_t chunk_count() const { return chunk_count_; }
  uint32_t slot_count() const { return chunk_count_ * kChunkPages; }

  bool empty() const { return used_ == 0; }
  Chunk& head() { return chunks_[head_]; }
  uint32_t head_slot() const { return slot_of(head_); }
  // Whether a batch of `pages` fits: in the last chunk's free slots, or in a new chunk.
  bool has_room(uint32_t pages) const { return (used_ != 0 && last().count + pages <= kChunkPages) || used_ < chunk_count_; }
  // The chunk a batch of `pages` goes into (has_room() must hold): the last one if they fit
  // there, else a new one started at `now_ns`. *first_free gets its first free slot.
  Chunk& open(uint32_t pages, uint64_t now_ns, uint32_t* first_free) {
    if (used_ == 0 || last().count + pages > kChunkPages) {
      Chunk& c = chunks_[(head_ + used_) % chunk_count_];
      c.since_ns = now_ns;
      c.count = 0;
      c.inherited = false;
      ++used_;
    }
    const uint32_t index = (head_ + used_ - 1) % chunk_count_;
    *first_free = slot_of(index) + chunks_[index].count;
    return chunks_[index];
  }
  // In a forked child: every chunk there is was copied from the parent.
  void mark_inherited() {
    for (uint32_t i = 0; i < used_; ++i) chunks_[(head_ + i) % chunk_count_].inherited = true;
  }
  void pop() {
    head_ = (head_ + 1) % chunk_count_;
    --used_;
  }

 private:
  const Chunk& last() const { return chunks_[(head_ + used_ - 1) % chunk_count_]; }
  uint32_t slot_of(uint32_t index) const { return first_slot_ + index * kChunkPages; }

  Chunk* chunks_ = nullptr;
  uint32_t chunk_count_ = 0;
  uint32_t first_slot_ = 0;
  uint32_t head_ = 0, used_ = 0;
};

}  // namespace tmc::reclaim
