// Pool dedup: evicted pages with identical bytes share one blob (design invariant 6).
//
// ContentIndex maps a page's seeded 64-bit hash to the pool handle of a blob made from a
// page with that hash. The reclaimer, the only thread that reads or changes it, looks each
// page it evicts up before compressing it: on a match it takes a reference on the blob
// (Pool::retain, which never revives a freed one), decodes the blob and compares the bytes
// with the page; only equal bytes share the blob. A hash alone never decides: the hash is
// fast, not collision-resistant, and an application's data may be chosen by an attacker,
// so the seed is drawn per process and never shown.
//
// The index is a cache, not a register of every blob:
//  - entries are never removed when a blob is freed (that happens on the fault thread);
//    an entry whose handle is no longer live, or live again for another blob, is stale.
//    A tag per handle (the low 32 bits of the hash last indexed under it) tells most stale
//    entries apart without decoding anything; the rest are found by the lookup that meets
//    them (the decoded page hashes differently) and dropped;
//  - an entry has two possible buckets; when both are full of current entries one of
//    them is dropped: a lost entry costs a missed chance to share, never a wrong byte.
// Buckets of four 16-byte entries (one cache line) in a table mapped straight from the
// kernel, which doubles when it is three quarters full and is rebuilt without stale
// entries. Memory: about 21 bytes per indexed blob, and 4 per pool handle for the tags.
//
// Sampler decides which evicted pages dedup looks at, as UKSM's adaptive scan does: all of
// them while it finds duplicates, fewer and fewer while it finds none, so data without
// duplicates costs almost nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pool/pool.h"

namespace tmc::dedup {

struct Match {
  pool::Handle handle = pool::kNoHandle;
  bool with_dict = false;  // the blob decodes with the engine's dictionary (heap::kFlagDict)
};

class ContentIndex {
 public:
  // Entries in the first table (64 KiB); it grows from there.
  static constexpr uint32_t kInitialBuckets = 1024;
  static constexpr uint32_t kWays = 4;

  ContentIndex() = default;
  ~ContentIndex();
  ContentIndex(const ContentIndex&) = delete;
  ContentIndex& operator=(const ContentIndex&) = delete;

  // The entry for `hash`, if any (the handle may be dead or another blob's by now).
  bool find(uint64_t hash, Match* out) const;
  // Records that the live blob `handle` holds a page of hash `hash`, replacing an entry
  // with the same hash. `pool` tells dead entries apart when a bucket is full or the table
  // is rebuilt. False (and nothing recorded) if no memory could be had for the table.
  bool insert(uint64_t hash, pool::Handle handle, bool with_dict, const pool::Pool& pool);
  // Drops the entry (hash, handle) if it is there.
  void forget(uint64_t hash, pool::Handle handle);

  // The table and the tags opened so far.
  size_t memory_bytes() const { return size_t{buckets_} * sizeof(Bucket) + tags_open_; }
  uint32_t entries() const { return used_; }  // current or stale

 private:
  struct Entry {
    uint64_t hash;
    uint32_t handle;  // kNoHandle: empty
    uint32_t flags;   // kWithDict
  };
  struct alignas(64) Bucket {
    Entry e[kWays];
  };
  static constexpr uint32_t kWithDict = 1;

  // The two buckets an entry may be in (the same one when the halves of the hash agree).
  Bucket* first_bucket(uint64_t hash) const { return &table_[hash & (buckets_ - 1)]; }
  Bucket* second_bucket(uint64_t hash) const { return &table_[(hash >> 32 | hash << 32) & (buckets_ - 1)]; }
  Entry* entry_for(uint64_t hash) const;
  // Whether e still names the blob it was made for (as far as the tags tell).
  bool current(const Entry& e, const pool::Pool& pool) const;
  // A new table of `buckets` (a power of two) holding the current entries of the old one.
  bool rebuild(uint32_t buckets, const pool::Pool& pool);
  // Puts an entry in: over one of the same hash, else an empty one (of the emptier
  // bucket), else a stale one, else any of the first bucket. Adjusts used_.
  void place(uint64_t hash, uint32_t handle, uint32_t flags, const pool::Pool& pool);
  bool reserve_tags(pool::Handle handle);  // makes tags_[handle] usable

  Bucket* table_ = nullptr;
  uint32_t buckets_ = 0;
  uint32_t used_ = 0;  // entries holding a handle
  // tags_[handle]: the low 32 bits of the hash last inserted with that handle. Address space
  // for every possible handle (Pool::kMaxHandles: 512 MiB) is reserved inaccessible; the
  // first tags_open_ bytes are opened, as far as the highest handle inserted needs.
  uint32_t* tags_ = nullptr;
  size_t tags_open_ = 0;
};

// Which evicted pages dedup looks at. take() is asked once per page that could be shared
// (compressible, not same-filled); found() is told each time a page did share a blob.
// While nothing is found, the stride doubles after every kPatience pages looked at (1 in
// 1, 2, 4, ... kMaxStride); the first duplicate brings it back to 1. On data with many
// copies (the case dedup exists for) the sampled pages find each other at once; on data
// without any, 1 page in kMaxStride is hashed and looked up.
class Sampler {
 public:
  static constexpr uint32_t kPatience = 4096;
  static constexpr uint32_t kMaxStride = 64;

  bool take() {
    if (++skipped_ < stride_) return false;
    skipped_ = 0;
    if (++looked_ >= kPatience) {
      looked_ = 0;
      if (stride_ < kMaxStride) stride_ *= 2;
    }
    return true;
  }
  void found() {
    stride_ = 1;
    looked_ = 0;
    skipped_ = 0;
  }
  uint32_t stride() const { return stride_; }

 private:
  uint32_t stride_ = 1;
  uint32_t skipped_ = 0;  // pages passed over since the last one taken
  uint32_t looked_ = 0;   // pages taken since the stride last changed
};

}  // namespace tmc::dedup
