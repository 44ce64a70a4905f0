// The compressed pool: where the blobs of evicted pages live, in as little memory as the
// blobs themselves plus a few percent (zsmalloc is the model).
//
// Layout:
//  - size classes (size_classes.h): a blob goes in a slot of the smallest class that fits;
//    each class carves spans of 1..16 contiguous pages into equal slots;
//  - spans are cut from 2 MiB chunks mapped from the kernel, so the pool's address space
//    stays a few large VMAs. A new span's pages are faulted in with one system call
//    (MADV_POPULATE_WRITE), or taken over from a PageSource: pages the caller is done with,
//    moved into place, which spares the kernel allocating and zeroing new ones. A span that
//    empties leaves dirty pages (free, still resident) that the next span of any class
//    reuses without faults; purging drops them in batches
//    with MADV_DONTNEED, and unmaps chunks left with nothing (one is kept, holding no
//    memory). Purging happens in store() once dirty pages exceed max(1 MiB, 1/64 of the
//    spans), and in compact() and trim(), so store/release churn costs no system calls;
//  - a handle (uint32_t, 0 = none) indexes a table of 16-byte entries: span, slot, size and
//    a reference count. The table is reserved once (PROT_NONE) and committed as it grows,
//    so entries never move and data() reads them without a lock;
//  - every span's descriptor (base::meta_alloc memory) maps each slot back to its handle,
//    so compact() can move blobs and fix their handles.
//
// Spans of a class are kept on lists by fullness; store() fills the fullest span first and
// compact() empties the sparsest spans into the fullest, so memory is returned where blobs
// were released at random.
//
// Threads: each class has its own spin lock; a shared lock guards the chunks and one
// guards the handle table's free list. Locks nest class -> chunks -> meta_alloc; the
// handle lock is never held with another, and no lock is held across a system call but a
// class lock while its new span is mapped or populated. No operation calls malloc, faults
// on managed memory or waits for anything but these locks. release() makes no system call
// at all, so it may run on an application thread inside jemalloc's purge hook; store(),
// compact(), compact_step() and trim() belong on libtmc's threads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/spin_lock.h"
#include "pool/file_store.h"
#include "pool/size_classes.h"

namespace tmc::pool {

using Handle = uint32_t;
inline constexpr Handle kNoHandle = 0;

// One size class, for tmcctl's table and for tests.
struct ClassStats {
  uint32_t slot_size;   // largest blob the class holds
  uint32_t span_pages;  // pages per span
  uint32_t slots_per_span;
  uint64_t spans;       // spans held
  uint64_t objects;     // blobs stored (slots in use)
  uint64_t blob_bytes;  // sum of their sizes
  uint64_t span_bytes;  // spans * span_pages * 4096
};

// Pages for new spans, instead of the kernel's fresh zeroed ones (the reclaimer's: staging
// slots whose pages are compressed, reclaim/page_recycler.h). A slot is always written
// before it is read, so what the pages held does not matter.
class PageSource {
 public:
  // Once per chunk of address space, before fill() is asked for pages in it; false: it
  // never will be.
  virtual bool adopt(void* chunk, size_t bytes) = 0;
  // Makes pages present from dst on (up to `pages`) and returns how many leading ones now
  // are; the pool faults in the rest. A page already present counts.
  virtual size_t fill(void* dst, size_t pages) = 0;

 protected:
  ~PageSource() = default;
};

class Pool {
 public:
  // The largest number of handles alive at once (2^27: 512 GiB of evicted pages). The
  // handle table reserves address space for all of them up front (2 GiB, PROT_NONE) and
  // commits it 64 KiB at a time.
  static constexpr uint32_t kMaxHandles = uint32_t{1} << 27;

  Pool() = default;
  // Unmaps the spans and the handle table. (Descriptors stay with base::meta_alloc.)
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Copies size bytes (1..kMaxBlob) into the pool and returns a handle whose reference
  // count is 1, or kNoHandle if memory runs out, the limit would be exceeded or the
  // arguments are invalid. A new span's pages come from `fresh` first, if given (it is
  // called under a class lock, on this thread).
  Handle store(const void* data, uint32_t size, PageSource* fresh = nullptr);

  // The blob's bytes and size, or nullptr for a handle that is not live or whose blob is
  // in the file tier (fetch() reads both). The pointer is valid until the handle is
  // released for the last time, or compact() or commit_to_file() runs.
  const void* data(Handle h, uint32_t* size) const;
  // The blob's bytes and size wherever it is: in the pool's memory, or read from the file
  // tier into buf (kMaxBlob bytes at least), which is then returned. nullptr if the handle
  // is not live or the file cannot give the blob back (errno says why).
  const void* fetch(Handle h, void* buf, uint32_t* size) const;
  // The blob's size (0 if the handle is not live).
  uint32_t size_of(Handle h) const;

  // ---- the file tier (file_store.h) ----------------------------------------------------
  // Blobs may go to `files` from now on. Set once, before the first write_to_file().
  void attach_files(FileStore* files) { files_ = files; }
  FileStore* files() const { return files_; }
  // Whether the blob of a live handle is in the file tier.
  bool in_file(Handle h) const;
  // Moving a blob to the file, in two steps, by the thread that stores and compacts (no
  // other moves or fills slots, and no handle freed meanwhile is handed out again):
  // write_to_file() copies a live blob to the file and returns its location and size
  // (FileStore::kNoLocation: it stays here, errno says why); commit_to_file(), called
  // where blob readers are kept out as for compact_step(), points the handle at that copy
  // and frees its slot, or frees the copy if the blob was released meanwhile (false).
  // Handles and references do not change. (No reference is taken for the move: one would
  // count as sharing in shared_refs() while it is held.)
  uint64_t write_to_file(Handle h, uint32_t* size);
  bool commit_to_file(Handle h, uint64_t location, uint32_t size);
  // Live blobs in the file tier.
  uint64_t filed_blobs() const { return filed_blobs_.load(std::memory_order_relaxed); }

  // Reference counting, for pages that share one blob (dedup/content_index.h). retain()
  // returns whether it took a reference: a handle that is not live is never revived, so a
  // thread racing with the last release either holds the blob or knows it is gone.
  // release() returns true when it freed the blob (the count reached 0); releasing a handle
  // that is not live returns false and changes nothing.
  bool retain(Handle h);
  bool release(Handle h);
  // The current count (0 if the handle is not live).
  uint32_t ref_count(Handle h) const;

  // Sum of the sizes of live blobs in memory (a blob shared by several pages counts once;
  // those in the file tier count in files()->stats()).
  uint64_t compr_bytes() const { return compr_bytes_.load(std::memory_order_relaxed); }
  // References beyond the first, over all live blobs (the pages that share another's
  // blob), and the blob bytes they would have taken on their own.
  uint64_t shared_refs() const { return shared_refs_.load(std::memory_order_relaxed); }
  uint64_t shared_bytes() const { return shared_bytes_.load(std::memory_order_relaxed); }
  // Memory the pool occupies: its spans (slots, slack and tails), dirty pages not purged
  // yet, span and chunk descriptors and the committed part of the handle table. Not the
  // Pool object itself.
  uint64_t pool_bytes() const;
  // The dirty part of pool_bytes(): pages of emptied spans, still resident.
  uint64_t dirty_bytes() const { return dirty_bytes_.load(std::memory_order_relaxed); }

  // Moves blobs out of sparsely used spans into fuller ones of the same class until no
  // class could free another span, then purges (trim()). Handles stay valid; pointers
  // from data() do not. Returns the bytes given back to the kernel.
  size_t compact();
  // compact() in bounded steps, for a caller that must not keep blob readers out for long:
  // empties sparse spans until about max_copy_bytes of blobs were moved (at least one span
  // if any can go) and returns whether more could be freed. Does not purge: the emptied
  // spans' pages are dirty until trim(). Pointers from data() are invalid afterwards.
  bool compact_step(size_t max_copy_bytes);
  // Span bytes compact() would free now: in each class, as many whole spans as its free
  // slots make. Reads every class (one lock each); with dirty_bytes(), what compact()
  // would give back.
  uint64_t compactable_bytes() const;
  // Gives dirty pages back to the kernel (MADV_DONTNEED) and unmaps empty chunks; returns
  // the bytes given back. Cheap when there is nothing to do. Stops once it gave back about
  // max_bytes (a batch of runs may go beyond), for a caller holding a lock meanwhile.
  size_t trim(size_t max_bytes = SIZE_MAX);

  // 0 = no limit. store() fails rather than let pool_bytes() exceed the limit (it purges
  // dirty pages first). Lowering the limit frees nothing; compact() and releases do.
  void set_limit(uint64_t bytes) { limit_.store(bytes, std::memory_order_relaxed); }
  uint64_t limit() const { return limit_.load(std::memory_order_relaxed); }

  static constexpr size_t class_count() { return kClassCount; }
  ClassStats class_stats(size_t i) const;

  // Checks every span, slot, handle and counter against each other; logs the first
  // inconsistency (log::warn) and returns false. For tests: call it when no other thread
  // uses the pool.
  bool is_valid() const;

  // In a forked child (single-threaded): frees locks held by threads that did not survive,
  // and forgets which chunks a PageSource adopted (its hold on them was the parent's).
  void reset_after_fork();

 private:
  struct Span;
  struct Chunk;
  struct Entry;

  // Dirty pages allowed before store() purges: max(kMinDirtyBytes, span bytes / kDirtyShare).
  static constexpr uint64_t kMinDirtyBytes = uint64_t{1} << 20;
  static constexpr uint64_t kDirtyShare = 64;

  // kGroups lists of spans that have free slots (by fullness), then one of full spans.
  static constexpr int kGroups = 8;
  static constexpr int kFullList = kGroups;

  struct alignas(64) ClassState {
    mutable SpinLock lock;
    Span* lists[kGroups + 1] = {};
    uint64_t spans = 0;
    uint64_t objects = 0;
    uint64_t blob_bytes = 0;
  };

  // Handles.
  Handle alloc_handle();
  void free_handle(Handle h);
  Entry* entry(Handle h) const;
  bool grow_table_locked();

  // Spans and slots (with the class lock held, except free_span).
  static Span* fullest_span(ClassState& cs);  // one with a free slot, or nullptr
  Span* new_span(uint32_t cls, PageSource* fresh);
  void fill_span(Span* s, uint32_t pages, PageSource* fresh);
  void free_span(Span* s);  // without the class lock: gives the pages back
  static void relink(ClassState& cs, Span* s);
  static void unlink(ClassState& cs, Span* s);
  static uint32_t pop_slot(Span* s, Handle h);
  static void push_slot(Span* s, uint32_t slot);
  Span* free_slot_locked(ClassState& cs, Entry* e, uint32_t size);
  bool compact_one(uint32_t cls, size_t* copied);

  // Chunks of span memory (with chunk_lock_ held).
  bool alloc_pages_locked(uint32_t pages, Chunk** chunk, char** base, bool* populate);
  Chunk* map_chunk_locked();

  bool reserve_span_bytes(uint64_t bytes);  // against the limit
  size_t purge(size_t max_bytes = SIZE_MAX);  // drops dirty pages, unmaps empty chunks
  uint64_t dirty_allowance() const;

  ClassState classes_[kClassCount];

  mutable SpinLock chunk_lock_;
  Chunk* chunks_ = nullptr;           // chunks holding spans or the spare
  Chunk* spare_chunks_ = nullptr;     // descriptors of unmapped chunks, for reuse
  Span* recycled_[kClassCount] = {};  // span descriptors without a span, per class
  Chunk* chunks_tail_ = nullptr;

  mutable SpinLock handle_lock_;
  // kMaxHandles entries reserved, table_size_ committed; both only grow (data() reads
  // them without the lock). Handle 0 is never used.
  std::atomic<Entry*> table_{nullptr};
  std::atomic<uint32_t> table_size_{0};
  uint32_t next_handle_ = 1;   // handles below this have been handed out once
  uint32_t free_handles_ = 0;  // head of the free list (0: empty)
  uint32_t live_handles_ = 0;

  std::atomic<uint64_t> compr_bytes_{0};
  std::atomic<uint64_t> shared_refs_{0};
  std::atomic<uint64_t> shared_bytes_{0};
  std::atomic<uint64_t> span_bytes_{0};
  std::atomic<uint64_t> dirty_bytes_{0};  // free span pages not dropped yet
  std::atomic<uint64_t> meta_bytes_{0};   // descriptors and handle table
  std::atomic<uint64_t> limit_{0};
  std::atomic<uint64_t> filed_blobs_{0};
  FileStore* files_ = nullptr;
};

}  // namespace tmc::pool
