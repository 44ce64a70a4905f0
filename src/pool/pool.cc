// See pool.h.
#include "pool/pool.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "base/compiler.h"
#include "base/log.h"
#include "base/meta_alloc.h"
#include "platform/mm.h"


namespace tmc::pool {
namespace {
constexpr uint32_t kChunkPages = 512;  // 2 MiB of address space per chunk
constexpr size_t kChunkBytes = size_t{kChunkPages} * kPageSize;
constexpr uint32_t kTableStep = 4096;  // handle entries committed at a time (64 KiB)

// A span's slot word: the handle of the blob in the slot, or kFreeBit | next free slot.
constexpr uint32_t kFreeBit = 0x80000000u;
constexpr uint32_t kNoSlot = 0xffff;
constexpr uint8_t kNoList = 0xff;
constexpr uint8_t kNotAsked = 0, kAdopted = 1, kRefused = 2;  // Chunk::adoption

static_assert(Pool::kMaxHandles < kFreeBit, "handles and free-slot links share a word");

}  // namespace

// A span: span_pages contiguous pages of one class, cut into slots. The descriptor lives
// in meta memory, followed by one word per slot (handle, or free-list link).
struct Pool::Span {
  char* base;
  Span* prev;  // in the class's list (or the recycled list: next only)
  Span* next;
  Chunk* chunk;
  uint8_t cls;
  uint8_t list;  // index in ClassState::lists, kNoList when on none
  uint16_t inuse;
  uint16_t free_head;  // first free slot, kNoSlot when full

  uint32_t* slots() { return reinterpret_cast<uint32_t*>(this + 1); }
  const uint32_t* slots() const { return reinterpret_cast<const uint32_t*>(this + 1); }
  const ClassInfo& info() const { return class_info(cls); }
  char* slot_ptr(uint32_t slot) const { return base + size_t{slot} * info().slot_size; }
  static size_t descriptor_size(uint32_t cls) {
    return sizeof(Span) + sizeof(uint32_t) * class_info(cls).slots;
  }
};

// A chunk: kChunkPages of address space mapped at once. Each page is used (by a span, or
// reserved while purge() drops it), dirty (free but still resident: a span that emptied)
// or clean (free and holding no memory).
struct Pool::Chunk {
  char* base;
  Chunk* prev;
  Chunk* next;
  uint32_t used_pages;
  uint32_t dirty_pages;
  uint32_t no_run_from;  // a search for a run this long failed since the last free
  // Whether a PageSource may fill it: kNotAsked, or its answer to adopt().
  std::atomic<uint8_t> adoption;
  uint64_t used[kChunkPages / 64];
  uint64_t dirty[kChunkPages / 64];

  static bool bit(const uint64_t* map, uint32_t p) { return (map[p / 64] >> (p % 64)) & 1; }
  static void set_bits(uint64_t* map, uint32_t first, uint32_t n, bool on) {
    for (uint32_t p = first; p < first + n; ++p) {
      if (on)
        map[p / 64] |= uint64_t{1} << (p % 64);
      else
        map[p / 64] &= ~(uint64_t{1} << (p % 64));
    }
  }
  static uint32_t count_bits(const uint64_t* map, uint32_t first, uint32_t n) {
    uint32_t k = 0;
    for (uint32_t p = first; p < first + n; ++p) k += bit(map, p);
    return k;
  }
  bool page_used(uint32_t p) const { return bit(used, p); }
  // First page of a run of n pages that are not used, or kChunkPages.
  uint32_t find_run(uint32_t n) const {
    uint32_t run = 0;
    for (uint32_t p = 0; p < kChunkPages; ++p) {
      if (p % 64 == 0 && used[p / 64] == ~uint64_t{0}) {
        run = 0;
        p += 63;
        continue;
      }
      if (page_used(p)) {
        run = 0;
      } else if (++run == n) {
        return p + 1 - n;
      }
    }
    return kChunkPages;
  }
  // The first run of dirty pages at or after page `from`: its first page (kChunkPages if
  // none) and its length in *n.
  uint32_t next_dirty_run(uint32_t from, uint32_t* n) const {
    uint32_t p = from;
    while (p < kChunkPages && !bit(dirty, p))
      p = (p % 64 == 0 && dirty[p / 64] == 0) ? p + 64 : p + 1;
    if (p >= kChunkPages) return kChunkPages;
    uint32_t end = p;
    while (end < kChunkPages && bit(dirty, end)) ++end;
    *n = end - p;
    return p;
  }
};

struct Pool::Entry {
  Span* span;                  // live: the span holding the blob; free: nullptr
  std::atomic<uint32_t> refs;  // live: the reference count (>= 1); free or being stored: 0
  uint16_t slot;               // live: slot in span; free: low half of the next free handle
  uint16_t size;               // live: blob bytes; free: high half of the next free handle

  // In the file tier (file_store.h) `span` holds (location << 1) | 1 instead: span
  // descriptors are aligned, so the low bit tells the two apart. `slot` is unused then.
  bool filed() const { return (reinterpret_cast<uintptr_t>(span) & 1) != 0; }
  uint64_t location() const { return reinterpret_cast<uintptr_t>(span) >> 1; }
  void set_location(uint64_t loc) { span = reinterpret_cast<Span*>(static_cast<uintptr_t>(loc << 1 | 1)); }

  uint32_t next_free() const { return uint32_t{slot} | uint32_t{size} << 16; }
  void set_next_free(uint32_t h) {
    slot = static_cast<uint16_t>(h);
    size = static_cast<uint16_t>(h >> 16);
  }
};

Pool::~Pool() {
  for (Chunk* c = chunks_; c != nullptr; c = c->next) munmap(c->base, kChunkBytes);
  Entry* table = table_.load(std::memory_order_relaxed);
  if (table != nullptr) munmap(table, size_t{kMaxHandles} * sizeof(Entry));
}

// ---- handles ---------------------------------------------------------------------------

Pool::Entry* Pool::entry(Handle h) const {
  if (h == kNoHandle || h >= table_size_.load(std::memory_order_acquire)) return nullptr;
  return table_.load(std::memory_order_acquire) + h;
}

bool Pool::grow_table_locked() {
  static_assert(sizeof(Entry) == 16);
  Entry* table = table_.load(std::memory_order_relaxed);
  if (table == nullptr) {
    size_t bytes = size_t{kMaxHandles} * sizeof(Entry);
    void* p = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      log::warn().str("pool: cannot reserve the handle table").flush();
      return false;
    }
    platform::name_mapping(p, bytes, "tmc-pool-handles");
    table = static_cast<Entry*>(p);
    table_.store(table, std::memory_order_release);
  }
  uint32_t size = table_size_.load(std::memory_order_relaxed);
  if (size >= kMaxHandles) return false;
  constexpr size_t kStepBytes = size_t{kTableStep} * sizeof(Entry);
  uint64_t limit = limit_.load(std::memory_order_relaxed);
  if (limit != 0 && pool_bytes() + kStepBytes > limit) return false;
  if (mprotect(table + size, kStepBytes, PROT_READ | PROT_WRITE) != 0) return false;
  meta_bytes_.fetch_add(kStepBytes, std::memory_order_relaxed);
  table_size_.store(size + kTableStep, std::memory_order_release);
  return true;
}

Handle Pool::alloc_handle() {
  SpinLockGuard guard(handle_lock_);
  Handle h;
  if (free_handles_ != kNoHandle) {
    h = free_handles_;
    free_handles_ = entry(h)->next_free();
  } else {
    if (next_handle_ >= table_size_.load(std::memory_order_relaxed) && !grow_table_locked())
      return kNoHandle;
    h = next_handle_++;
  }
  ++live_handles_;
  return h;
}

void Pool::free_handle(Handle h) {
  SpinLockGuard guard(handle_lock_);
  Entry* e = entry(h);
  e->span = nullptr;
  e->set_next_free(free_handles_);
  free_handles_ = h;
  --live_handles_;
}

// ---- chunks ----------------------------------------------------------------------------

Pool::Chunk* Pool::map_chunk_locked() {
  void* p = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  // The pool accounts for memory page by page; a huge page would hold 2 MiB for one span.
  platform::raw_madvise(p, kChunkBytes, MADV_NOHUGEPAGE);
  platform::name_mapping(p, kChunkBytes, "tmc-pool");
  Chunk* c = spare_chunks_;
  if (c != nullptr) {
    spare_chunks_ = c->next;
  } else {
    c = static_cast<Chunk*>(base::meta_alloc(sizeof(Chunk)));
    if (c == nullptr) {
      munmap(p, kChunkBytes);
      return nullptr;
    }
    meta_bytes_.fetch_add((sizeof(Chunk) + 63) & ~size_t{63}, std::memory_order_relaxed);
  }
  memset(static_cast<void*>(c), 0, sizeof(Chunk));
  c->base = static_cast<char*>(p);
  c->no_run_from = kChunkPages + 1;
  c->prev = chunks_tail_;
  if (chunks_tail_ != nullptr)
    chunks_tail_->next = c;
  else
    chunks_ = c;
  chunks_tail_ = c;
  return c;
}

bool Pool::alloc_pages_locked(uint32_t pages, Chunk** chunk, char** base, bool* populate) {
  // First fit, oldest chunk first, so that spans gather in few chunks and reuse the dirty
  // pages of spans that emptied before any clean page.
  Chunk* c = chunks_;
  uint32_t first = kChunkPages;
  for (; c != nullptr; c = c->next) {
    if (c->used_pages + pages > kChunkPages || pages >= c->no_run_from) continue;
    first = c->find_run(pages);
    if (first < kChunkPages) break;
    c->no_run_from = pages;
  }
  if (c == nullptr) {
    c = map_chunk_locked();
    if (c == nullptr) return false;
    first = 0;
  }
  uint32_t dirty = Chunk::count_bits(c->dirty, first, pages);
  if (dirty != 0) {
    Chunk::set_bits(c->dirty, first, pages, false);
    c->dirty_pages -= dirty;
    dirty_bytes_.fetch_sub(uint64_t{dirty} * kPageSize, std::memory_order_relaxed);
  }
  Chunk::set_bits(c->used, first, pages, true);
  c->used_pages += pages;
  *chunk = c;
  *base = c->base + size_t{first} * kPageSize;
  *populate = dirty < pages;
  return true;
}

bool Pool::reserve_span_bytes(uint64_t bytes) {
  uint64_t limit = limit_.load(std::memory_order_relaxed);
  uint64_t spans = span_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (limit != 0 && spans + dirty_bytes_.load(std::memory_order_relaxed) +
                            meta_bytes_.load(std::memory_order_relaxed) >
                        limit) {
    span_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    return false;
  }
  return true;
}

size_t Pool::purge(size_t max_bytes) {
  constexpr int kBatch = 64;
  struct Run {
    Chunk* chunk;
    uint32_t first, pages;
  };
  size_t purged = 0;
  while (purged < max_bytes) {
    // Take a batch of dirty runs out of circulation (marked used), drop them without the
    // lock, then free them as clean pages.
    Run runs[kBatch];
    int n = 0;
    {
      SpinLockGuard guard(chunk_lock_);
      for (Chunk* c = chunks_; c != nullptr && n < kBatch; c = c->next) {
        uint32_t p = 0, len = 0;
        while (c->dirty_pages != 0 && n < kBatch &&
               (p = c->next_dirty_run(p, &len)) < kChunkPages) {
          Chunk::set_bits(c->dirty, p, len, false);
          Chunk::set_bits(c->used, p, len, true);
          c->dirty_pages -= len;
          c->used_pages += len;
          dirty_bytes_.fetch_sub(uint64_t{len} * kPageSize, std::memory_order_relaxed);
          runs[n++] = {c, p, len};
          p += len;
        }
      }
    }
    if (n == 0) break;
    for (int i = 0; i < n; ++i) {
      size_t bytes = size_t{runs[i].pages} * kPageSize;
      platform::raw_madvise(runs[i].chunk->base + size_t{runs[i].first} * kPageSize, bytes, MADV_DONTNEED);
      purged += bytes;
    }
    SpinLockGuard guard(chunk_lock_);
    for (int i = 0; i < n; ++i) {
      Chunk::set_bits(runs[i].chunk->used, runs[i].first, runs[i].pages, false);
      runs[i].chunk->used_pages -= runs[i].pages;
      runs[i].chunk->no_run_from = kChunkPages + 1;
    }
  }
  // Unmap chunks that hold nothing any more, but one (which costs no memory).
  for (;;) {
    char* unmap[kBatch];
    int n = 0;
    {
      SpinLockGuard guard(chunk_lock_);
      bool kept = false;
      for (Chunk* c = chunks_; c != nullptr && n < kBatch;) {
        Chunk* next = c->next;
        if (c->used_pages == 0 && c->dirty_pages == 0) {
          if (!kept) {
            kept = true;
          } else {
            unmap[n++] = c->base;
            (c->prev != nullptr ? c->prev->next : chunks_) = c->next;
            (c->next != nullptr ? c->next->prev : chunks_tail_) = c->prev;
            c->next = spare_chunks_;
            spare_chunks_ = c;
          }
        }
        c = next;
      }
    }
    for (int i = 0; i < n; ++i) munmap(unmap[i], kChunkBytes);
    if (n < kBatch) break;
  }
  return purged;
}

size_t Pool::trim(size_t max_bytes) { return purge(max_bytes); }

// ---- spans -----------------------------------------------------------------------------

namespace {
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif
std::atomic<bool> g_populate_works{true};

// Faults a new span's pages in with one system call instead of one fault per page (a
// fault costs 1.3 to 15 us on the VMs we measured, populating about 1 us a page).
void populate(void* p, size_t bytes) {
  if (!g_populate_works.load(std::memory_order_relaxed)) return;
  if (platform::raw_madvise(p, bytes, MADV_POPULATE_WRITE) != 0 && errno == EINVAL)
    g_populate_works.store(false, std::memory_order_relaxed);  // older kernel: fault lazily
}
}  // namespace

// Makes a new span's pages present: from the source as far as it goes, the rest faulted in.
// (Pages of the span that were dirty are present already; the source counts them.)
void Pool::fill_span(Span* s, uint32_t pages, PageSource* fresh) {
  size_t filled = 0;
  if (fresh != nullptr) {
    Chunk* c = s->chunk;
    uint8_t a = c->adoption.load(std::memory_order_acquire);
    if (a == kNotAsked) {
      // Two threads may both ask: adopting twice is harmless, and both store one answer.
      a = fresh->adopt(c->base, kChunkBytes) ? kAdopted : kRefused;
      c->adoption.store(a, std::memory_order_release);
    }
    if (a == kAdopted) filled = fresh->fill(s->base, pages);
    if (filled > pages) filled = pages;
  }
  if (filled < pages) populate(s->base + filled * kPageSize, (pages - filled) * kPageSize);
}

Pool::Span* Pool::new_span(uint32_t cls, PageSource* fresh) {
  const ClassInfo& ci = class_info(cls);
  uint64_t bytes = uint64_t{ci.span_pages} * kPageSize;
  if (!reserve_span_bytes(bytes)) {
    // Dirty pages count against the limit: drop them and try again.
    if (dirty_bytes_.load(std::memory_order_relaxed) == 0) return nullptr;
    purge();
    if (!reserve_span_bytes(bytes)) return nullptr;
  }
  Span* s;
  bool fresh_pages = false;
  {
    SpinLockGuard guard(chunk_lock_);
    s = recycled_[cls];
    if (s != nullptr) {
      recycled_[cls] = s->next;
    } else {
      size_t dsize = Span::descriptor_size(cls);
      s = static_cast<Span*>(base::meta_alloc(dsize));
      if (s == nullptr) {
        span_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
        return nullptr;
      }
      meta_bytes_.fetch_add((dsize + 63) & ~size_t{63}, std::memory_order_relaxed);
    }
    if (!alloc_pages_locked(ci.span_pages, &s->chunk, &s->base, &fresh_pages)) {
      s->next = recycled_[cls];
      recycled_[cls] = s;
      span_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
      return nullptr;
    }
  }
  if (fresh_pages) fill_span(s, ci.span_pages, fresh);
  s->prev = s->next = nullptr;
  s->cls = static_cast<uint8_t>(cls);
  s->list = kNoList;
  s->inuse = 0;
  s->free_head = 0;
  uint32_t* slots = s->slots();
  for (uint32_t i = 0; i + 1 < ci.slots; ++i) slots[i] = kFreeBit | (i + 1);
  slots[ci.slots - 1] = kFreeBit | kNoSlot;
  classes_[cls].spans++;
  return s;
}

void Pool::free_span(Span* s) {
  // No system call here (release() runs on application threads): the pages become dirty
  // and purge() drops them later, in batches.
  const ClassInfo& ci = s->info();
  uint64_t bytes = uint64_t{ci.span_pages} * kPageSize;
  Chunk* c = s->chunk;
  auto first = static_cast<uint32_t>((s->base - c->base) / kPageSize);
  SpinLockGuard guard(chunk_lock_);
  Chunk::set_bits(c->used, first, ci.span_pages, false);
  Chunk::set_bits(c->dirty, first, ci.span_pages, true);
  c->used_pages -= ci.span_pages;
  c->dirty_pages += ci.span_pages;
  c->no_run_from = kChunkPages + 1;
  s->next = recycled_[s->cls];
  recycled_[s->cls] = s;
  dirty_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  span_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

void Pool::unlink(ClassState& cs, Span* s) {
  if (s->list == kNoList) return;
  (s->prev != nullptr ? s->prev->next : cs.lists[s->list]) = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
  s->prev = s->next = nullptr;
  s->list = kNoList;
}

// Puts a span with blobs on the list its fullness says.
void Pool::relink(ClassState& cs, Span* s) {
  uint32_t slots = s->info().slots;
  uint8_t list = s->inuse == slots ? kFullList : static_cast<uint8_t>(s->inuse * kGroups / slots);
  if (list == s->list) return;
  unlink(cs, s);
  s->list = list;
  s->prev = nullptr;
  s->next = cs.lists[list];
  if (s->next != nullptr) s->next->prev = s;
  cs.lists[list] = s;
}

Pool::Span* Pool::fullest_span(ClassState& cs) {
  for (int l = kGroups - 1; l >= 0; --l)
    if (cs.lists[l] != nullptr) return cs.lists[l];
  return nullptr;
}

uint32_t Pool::pop_slot(Span* s, Handle h) {
  uint32_t slot = s->free_head;
  uint32_t* slots = s->slots();
  s->free_head = static_cast<uint16_t>(slots[slot] & ~kFreeBit);
  slots[slot] = h;
  s->inuse++;
  return slot;
}

void Pool::push_slot(Span* s, uint32_t slot) {
  s->slots()[slot] = kFreeBit | s->free_head;
  s->free_head = static_cast<uint16_t>(slot);
  s->inuse--;
}

// ---- the interface ---------------------------------------------------------------------

Handle Pool::store(const void* data, uint32_t size, PageSource* fresh) {
  if (TMC_UNLIKELY(data == nullptr || size < kMinBlob || size > kMaxBlob)) return kNoHandle;
  if (TMC_UNLIKELY(dirty_bytes_.load(std::memory_order_relaxed) > dirty_allowance())) purge();
  Handle h = alloc_handle();
  if (h == kNoHandle) return kNoHandle;
  uint32_t cls = class_of(size);
  ClassState& cs = classes_[cls];
  {
    SpinLockGuard guard(cs.lock);
    Span* s = fullest_span(cs);
    if (s == nullptr) s = new_span(cls, fresh);
    if (s != nullptr) {
      uint32_t slot = pop_slot(s, h);
      // Copied under the lock: compact() may otherwise move the slot before it is filled.
      memcpy(s->slot_ptr(slot), data, size);
      Entry* e = entry(h);
      e->span = s;
      e->slot = static_cast<uint16_t>(slot);
      e->size = static_cast<uint16_t>(size);
      e->refs.store(1, std::memory_order_release);
      relink(cs, s);
      cs.objects++;
      cs.blob_bytes += size;
      compr_bytes_.fetch_add(size, std::memory_order_relaxed);
      return h;
    }
  }
  free_handle(h);
  return kNoHandle;
}

const void* Pool::data(Handle h, uint32_t* size) const {
  const Entry* e = entry(h);
  if (TMC_UNLIKELY(e == nullptr || e->refs.load(std::memory_order_acquire) == 0 || e->filed())) return nullptr;
  const Span* s = e->span;
  if (size != nullptr) *size = e->size;
  return s->slot_ptr(e->slot);
}

const void* Pool::fetch(Handle h, void* buf, uint32_t* size) const {
  const Entry* e = entry(h);
  if (TMC_UNLIKELY(e == nullptr || e->refs.load(std::memory_order_acquire) == 0)) return nullptr;
  if (size != nullptr) *size = e->size;
  if (!e->filed()) return e->span->slot_ptr(e->slot);
  return files_ != nullptr && files_->read(e->location(), e->size, buf) ? buf : nullptr;
}

uint32_t Pool::size_of(Handle h) const {
  const Entry* e = entry(h);
  return e == nullptr || e->refs.load(std::memory_order_acquire) == 0 ? 0 : e->size;
}

bool Pool::in_file(Handle h) const {
  const Entry* e = entry(h);
  return e != nullptr && e->refs.load(std::memory_order_acquire) != 0 && e->filed();
}

uint64_t Pool::write_to_file(Handle h, uint32_t* size) {
  const Entry* e = entry(h);
  if (files_ == nullptr || e == nullptr || e->refs.load(std::memory_order_acquire) == 0 || e->filed())
    return FileStore::kNoLocation;
  // No lock: only this thread moves or fills slots, and a release meanwhile leaves the
  // slot's pages where they are (only purge(), on this thread, gives them back): at worst
  // the copy is of a freed slot, and commit_to_file() drops it.
  *size = e->size;
  return files_->write(e->span->slot_ptr(e->slot), *size);
}

bool Pool::commit_to_file(Handle h, uint64_t location, uint32_t size) {
  Entry* e = entry(h);
  ClassState& cs = classes_[class_of(size)];
  Span* empty = nullptr;
  bool gone;
  {
    SpinLockGuard guard(cs.lock);
    // release() drops the count before it takes this lock to free the slot: at 0 the blob
    // is on its way out (the entry may already be on the free list), and the slot is
    // release()'s to free.
    gone = e->refs.load(std::memory_order_acquire) == 0;
    if (!gone) {
      empty = free_slot_locked(cs, e, size);
      e->set_location(location);
    }
  }
  if (gone) {
    files_->free(location, size);
    return false;
  }
  compr_bytes_.fetch_sub(size, std::memory_order_relaxed);
  filed_blobs_.fetch_add(1, std::memory_order_relaxed);
  if (empty != nullptr) free_span(empty);
  return true;
}

// Frees the slot of entry e's blob (in memory, `size` bytes) in its class, whose lock the
// caller holds; returns its span if that emptied (the caller frees it, without the lock).
Pool::Span* Pool::free_slot_locked(ClassState& cs, Entry* e, uint32_t size) {
  Span* s = e->span;
  push_slot(s, e->slot);
  cs.objects--;
  cs.blob_bytes -= size;
  if (s->inuse != 0) {
    relink(cs, s);
    return nullptr;
  }
  unlink(cs, s);
  cs.spans--;
  return s;
}

bool Pool::retain(Handle h) {
  Entry* e = entry(h);
  if (e == nullptr) return false;
  uint32_t r = e->refs.load(std::memory_order_relaxed);
  do {
    if (r == 0) return false;  // not live: never resurrect
  } while (!e->refs.compare_exchange_weak(r, r + 1, std::memory_order_relaxed));
  shared_refs_.fetch_add(1, std::memory_order_relaxed);
  shared_bytes_.fetch_add(e->size, std::memory_order_relaxed);
  return true;
}

uint32_t Pool::ref_count(Handle h) const {
  const Entry* e = entry(h);
  return e == nullptr ? 0 : e->refs.load(std::memory_order_acquire);
}

bool Pool::release(Handle h) {
  Entry* e = entry(h);
  if (e == nullptr) return false;
  uint32_t r = e->refs.load(std::memory_order_relaxed);
  do {
    if (r == 0) return false;
  } while (!e->refs.compare_exchange_weak(r, r - 1, std::memory_order_acq_rel));
  if (r > 1) {
    shared_refs_.fetch_sub(1, std::memory_order_relaxed);
    shared_bytes_.fetch_sub(e->size, std::memory_order_relaxed);
    return false;
  }

  uint32_t size = e->size;  // fixed while the handle was live
  uint32_t cls = class_of(size);
  ClassState& cs = classes_[cls];
  Span* empty = nullptr;
  uint64_t location = FileStore::kNoLocation;
  {
    SpinLockGuard guard(cs.lock);
    // Read under the lock: compact() or commit_to_file() may have moved the blob.
    if (e->filed()) location = e->location();
    else empty = free_slot_locked(cs, e, size);
  }
  if (location != FileStore::kNoLocation) {
    files_->free(location, size);
    filed_blobs_.fetch_sub(1, std::memory_order_relaxed);
  } else {
    compr_bytes_.fetch_sub(size, std::memory_order_relaxed);
  }
  if (empty != nullptr) free_span(empty);
  free_handle(h);
  return true;
}

uint64_t Pool::pool_bytes() const {
  return span_bytes_.load(std::memory_order_relaxed) +
         dirty_bytes_.load(std::memory_order_relaxed) + meta_bytes_.load(std::memory_order_relaxed);
}

uint64_t Pool::dirty_allowance() const {
  uint64_t share = span_bytes_.load(std::memory_order_relaxed) / kDirtyShare;
  return share > kMinDirtyBytes ? share : kMinDirtyBytes;
}

// Empties one sparse span of the class into fuller ones, if the class has at least a
// span's worth of free slots (then the others can take all of its blobs). Adds the blob
// bytes it moved to *copied. The span's pages become dirty; purge() drops them.
bool Pool::compact_one(uint32_t cls, size_t* copied) {
  ClassState& cs = classes_[cls];
  const ClassInfo& ci = class_info(cls);
  Span* src = nullptr;
  {
    SpinLockGuard guard(cs.lock);
    if (cs.spans * ci.slots - cs.objects < ci.slots) return false;
    for (int l = 0; l < kGroups && src == nullptr; ++l) src = cs.lists[l];
    if (src == nullptr) return false;
    unlink(cs, src);
    uint32_t* slots = src->slots();
    for (uint32_t i = 0; i < ci.slots; ++i) {
      if (slots[i] & kFreeBit) continue;
      Span* dst = fullest_span(cs);
      if (TMC_UNLIKELY(dst == nullptr)) {  // cannot happen: the count above guarantees room
        relink(cs, src);
        return false;
      }
      Handle h = slots[i];
      Entry* e = entry(h);
      uint32_t slot = pop_slot(dst, h);
      memcpy(dst->slot_ptr(slot), src->slot_ptr(i), e->size);
      *copied += e->size;
      e->span = dst;
      e->slot = static_cast<uint16_t>(slot);
      relink(cs, dst);
      push_slot(src, i);
    }
    cs.spans--;
  }
  free_span(src);
  return true;
}

size_t Pool::compact() {
  while (compact_step(SIZE_MAX)) {
  }
  return purge();
}

bool Pool::compact_step(size_t max_copy_bytes) {
  size_t copied = 0;
  // One span per lock hold, so that releases on other threads wait little.
  for (uint32_t cls = 0; cls < kClassCount; ++cls) {
    while (compact_one(cls, &copied)) {
      // Whether more could go is not known without looking: say so, the next step looks.
      if (copied >= max_copy_bytes) return true;
    }
  }
  return false;
}

uint64_t Pool::compactable_bytes() const {
  uint64_t bytes = 0;
  for (uint32_t cls = 0; cls < kClassCount; ++cls) {
    const ClassState& cs = classes_[cls];
    const ClassInfo& ci = class_info(cls);
    SpinLockGuard guard(cs.lock);
    bytes += (cs.spans * ci.slots - cs.objects) / ci.slots * ci.span_pages * kPageSize;
  }
  return bytes;
}

ClassStats Pool::class_stats(size_t i) const {
  ClassStats st{};
  if (i >= kClassCount) return st;
  const ClassInfo& ci = class_info(static_cast<uint32_t>(i));
  const ClassState& cs = classes_[i];
  st.slot_size = ci.slot_size;
  st.span_pages = ci.span_pages;
  st.slots_per_span = ci.slots;
  SpinLockGuard guard(cs.lock);
  st.spans = cs.spans;
  st.objects = cs.objects;
  st.blob_bytes = cs.blob_bytes;
  st.span_bytes = cs.spans * ci.span_pages * kPageSize;
  return st;
}

void Pool::reset_after_fork() {
  for (ClassState& cs : classes_) cs.lock.reset_after_fork();
  chunk_lock_.reset_after_fork();
  handle_lock_.reset_after_fork();
  for (Chunk* c = chunks_; c != nullptr; c = c->next) c->adoption.store(kNotAsked, std::memory_order_relaxed);
}

// ---- validation ------------------------------------------------------------------------

namespace {
bool fail(const char* what, uint64_t a = 0, uint64_t b = 0) {
  log::warn().str("pool: invalid: ").str(what).str(" (").u64(a).str(", ").u64(b).str(")").flush();
  return false;
}
}  // namespace

bool Pool::is_valid() const {
  uint64_t objects = 0, blob_bytes = 0, span_pages = 0;
  for (uint32_t cls = 0; cls < kClassCount; ++cls) {
    const ClassState& cs = classes_[cls];
    const ClassInfo& ci = class_info(cls);
    SpinLockGuard guard(cs.lock);
    uint64_t spans = 0, objs = 0, bytes = 0;
    for (int l = 0; l <= kGroups; ++l) {
      const Span* prev = nullptr;
      for (const Span* s = cs.lists[l]; s != nullptr; prev = s, s = s->next) {
        if (s->prev != prev) return fail("span list links", cls, l);
        if (s->cls != cls || s->list != l) return fail("span on the wrong list", cls, l);
        if (s->inuse == 0 || s->inuse > ci.slots) return fail("span in use count", cls, s->inuse);
        int want = s->inuse == ci.slots ? kFullList : s->inuse * kGroups / ci.slots;
        if (want != l) return fail("span fullness list", cls, l);
        if (++spans > cs.spans) return fail("more spans listed than counted", cls, cs.spans);
        // Free list: exactly the free slots, no cycle.
        uint32_t free_count = 0;
        for (uint32_t f = s->free_head; f != kNoSlot; f = s->slots()[f] & ~kFreeBit) {
          if (f >= ci.slots || !(s->slots()[f] & kFreeBit)) return fail("free slot link", cls, f);
          if (++free_count > ci.slots) return fail("free slot cycle", cls, f);
        }
        if (free_count + s->inuse != ci.slots) return fail("free slot count", cls, free_count);
        uint32_t used = 0;
        for (uint32_t i = 0; i < ci.slots; ++i) {
          uint32_t w = s->slots()[i];
          if (w & kFreeBit) continue;
          ++used;
          const Entry* e = entry(w);
          if (e == nullptr || e->refs.load(std::memory_order_relaxed) == 0)
            return fail("slot names a dead handle", cls, w);
          if (e->span != s || e->slot != i) return fail("handle does not point back", w, i);
          if (e->size < kMinBlob || class_of(e->size) != cls) return fail("blob size", w, e->size);
          bytes += e->size;
        }
        if (used != s->inuse) return fail("used slots", cls, used);
        objs += used;
        // The span's pages are marked in its chunk.
        SpinLockGuard chunk_guard(chunk_lock_);
        const Chunk* c = s->chunk;
        if (s->base < c->base ||
            s->base + size_t{ci.span_pages} * kPageSize > c->base + kChunkBytes)
          return fail("span outside its chunk", cls, 0);
        auto first = static_cast<uint32_t>((s->base - c->base) / kPageSize);
        for (uint32_t p = first; p < first + ci.span_pages; ++p)
          if (!c->page_used(p)) return fail("span page not marked", cls, p);
      }
    }
    if (spans != cs.spans || objs != cs.objects || bytes != cs.blob_bytes)
      return fail("class counters", cls, spans);
    objects += objs;
    blob_bytes += bytes;
    span_pages += spans * ci.span_pages;
  }
  if (blob_bytes != compr_bytes()) return fail("compr_bytes", blob_bytes, compr_bytes());
  if (span_pages * kPageSize != span_bytes_.load(std::memory_order_relaxed))
    return fail("span bytes", span_pages * kPageSize, span_bytes_.load());
  {
    SpinLockGuard guard(chunk_lock_);
    uint64_t used = 0, dirty = 0;
    uint32_t empty = 0;
    const Chunk* prev = nullptr;
    for (const Chunk* c = chunks_; c != nullptr; prev = c, c = c->next) {
      if (c->prev != prev) return fail("chunk list links", 0, 0);
      uint32_t u = Chunk::count_bits(c->used, 0, kChunkPages);
      uint32_t d = Chunk::count_bits(c->dirty, 0, kChunkPages);
      if (u != c->used_pages || d != c->dirty_pages) return fail("chunk page counts", u, d);
      for (uint32_t w = 0; w < kChunkPages / 64; ++w)
        if (c->used[w] & c->dirty[w]) return fail("page both used and dirty", w, 0);
      used += u;
      dirty += d;
      empty += u == 0 && d == 0;
    }
    if (prev != chunks_tail_) return fail("chunk list tail", 0, 0);
    if (used != span_pages) return fail("chunk pages", used, span_pages);
    if (dirty * kPageSize != dirty_bytes_.load(std::memory_order_relaxed))
      return fail("dirty bytes", dirty, dirty_bytes_.load());
    if (empty > 1) return fail("empty chunks kept", empty, 0);
  }
  {
    SpinLockGuard guard(handle_lock_);
    uint64_t live = 0, shared = 0, shared_bytes = 0;
    for (Handle h = 1; h < next_handle_; ++h) {
      uint32_t refs = entry(h)->refs.load(std::memory_order_relaxed);
      live += refs != 0;
      shared += refs > 1 ? refs - 1 : 0;
      shared_bytes += refs > 1 ? uint64_t{refs - 1} * entry(h)->size : 0;
    }
    uint64_t filed = 0;
    for (Handle h = 1; h < next_handle_; ++h)
      filed += entry(h)->refs.load(std::memory_order_relaxed) != 0 && entry(h)->filed();
    if (filed != filed_blobs()) return fail("blobs in the file tier", filed, filed_blobs());
    if (live != objects + filed || live != live_handles_) return fail("live handles", live, objects);
    if (shared != shared_refs() || shared_bytes != this->shared_bytes()) return fail("shared references", shared, shared_refs());
    uint64_t free_count = 0;
    for (Handle h = free_handles_; h != kNoHandle; h = entry(h)->next_free()) {
      if (h >= next_handle_ || entry(h)->refs.load(std::memory_order_relaxed) != 0)
        return fail("free handle", h, 0);
      if (++free_count > next_handle_) return fail("free handle cycle", h, 0);
    }
    if (free_count + live + 1 != next_handle_) return fail("handle count", free_count, live);
  }
  return true;
}

}  // namespace tmc::pool
