// See content_index.h.
#include "dedup/content_index.h"

#include <sys/mman.h>

#include <utility>

#include "platform/mm.h"

namespace tmc::dedup {

namespace {
// 2^25 buckets (2 GiB of table) index 2^27 blobs, the pool's limit.
constexpr uint32_t kMaxBuckets = uint32_t{1} << 25;
constexpr size_t kTagBytes = size_t{pool::Pool::kMaxHandles} * sizeof(uint32_t);
constexpr size_t kTagStep = size_t{64} << 10;
}  // namespace

ContentIndex::~ContentIndex() {
  if (table_ != nullptr) munmap(table_, size_t{buckets_} * sizeof(Bucket));
  if (tags_ != nullptr) munmap(tags_, kTagBytes);
}

// The tags are reserved inaccessible and opened kTagStep at a time as handles grow: a
// program's mlockall() would otherwise fault the whole reservation in.
bool ContentIndex::reserve_tags(pool::Handle handle) {
  if (tags_ == nullptr) {
    void* p = mmap(nullptr, kTagBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    platform::name_mapping(p, kTagBytes, "tmc-dedup-tags");
    tags_ = static_cast<uint32_t*>(p);
  }
  size_t need = (size_t{handle} * sizeof(uint32_t) / kTagStep + 1) * kTagStep;
  if (need <= tags_open_) return true;
  if (mprotect(reinterpret_cast<char*>(tags_) + tags_open_, need - tags_open_, PROT_READ | PROT_WRITE) != 0)
    return false;
  tags_open_ = need;
  return true;
}

ContentIndex::Entry* ContentIndex::entry_for(uint64_t hash) const {
  if (table_ == nullptr) return nullptr;
  for (Bucket* b : {first_bucket(hash), second_bucket(hash)})
    for (Entry& e : b->e)
      if (e.handle != pool::kNoHandle && e.hash == hash) return &e;
  return nullptr;
}

bool ContentIndex::find(uint64_t hash, Match* out) const {
  const Entry* e = entry_for(hash);
  if (e == nullptr) return false;
  out->handle = e->handle;
  out->with_dict = (e->flags & kWithDict) != 0;
  return true;
}

bool ContentIndex::current(const Entry& e, const pool::Pool& pool) const {
  return e.handle != pool::kNoHandle && size_t{e.handle} * sizeof(uint32_t) < tags_open_ &&
         tags_[e.handle] == static_cast<uint32_t>(e.hash) &&
         pool.ref_count(e.handle) != 0;
}

void ContentIndex::place(uint64_t hash, uint32_t handle, uint32_t flags, const pool::Pool& pool) {
  Entry* slot = entry_for(hash);  // one entry per content
  Bucket* buckets[2] = {first_bucket(hash), second_bucket(hash)};
  // The emptier bucket first ("two choices": buckets then fill evenly and rarely overflow).
  auto empties = [](const Bucket* b) {
    uint32_t n = 0;
    for (const Entry& e : b->e) n += e.handle == pool::kNoHandle;
    return n;
  };
  if (empties(buckets[1]) > empties(buckets[0])) std::swap(buckets[0], buckets[1]);
  for (Bucket* b : buckets)
    for (Entry& e : b->e)
      if (slot == nullptr && e.handle == pool::kNoHandle) slot = &e;
  for (Bucket* b : buckets)
    for (Entry& e : b->e)
      if (slot == nullptr && !current(e, pool)) slot = &e;
  // Both buckets full of current entries: one goes (a lost chance to share, nothing worse).
  if (slot == nullptr) slot = &first_bucket(hash)->e[(hash >> 40) % kWays];
  used_ += slot->handle == pool::kNoHandle;
  *slot = Entry{hash, handle, flags};
}

bool ContentIndex::insert(uint64_t hash, pool::Handle handle, bool with_dict, const pool::Pool& pool) {
  if (handle == pool::kNoHandle || handle >= pool::Pool::kMaxHandles) return false;
  if (!reserve_tags(handle)) return false;
  if (table_ == nullptr && !rebuild(kInitialBuckets, pool)) return false;
  if (used_ >= buckets_ * kWays / 4 * 3 && buckets_ < kMaxBuckets) {
    // Stale entries do not count: rebuild at the same size if they make up half.
    uint32_t live = 0;
    for (uint32_t i = 0; i < buckets_; ++i)
      for (const Entry& e : table_[i].e) live += current(e, pool);
    uint32_t want = live <= buckets_ * kWays / 2 ? buckets_ : buckets_ * 2;
    rebuild(want, pool);  // on failure the old table goes on, dropping entries as it fills
  }
  tags_[handle] = static_cast<uint32_t>(hash);
  place(hash, handle, with_dict ? kWithDict : 0, pool);
  return true;
}

void ContentIndex::forget(uint64_t hash, pool::Handle handle) {
  Entry* e = entry_for(hash);
  if (e == nullptr || e->handle != handle) return;
  *e = Entry{0, pool::kNoHandle, 0};
  --used_;
}

bool ContentIndex::rebuild(uint32_t buckets, const pool::Pool& pool) {
  size_t bytes = size_t{buckets} * sizeof(Bucket);
  auto* fresh = static_cast<Bucket*>(platform::map_anonymous(bytes, "tmc-dedup-index"));
  if (fresh == nullptr) return false;  // zero-filled: every entry empty
  Bucket* old = table_;
  uint32_t old_buckets = buckets_;
  table_ = fresh;
  buckets_ = buckets;
  used_ = 0;
  for (uint32_t i = 0; i < old_buckets; ++i)
    for (const Entry& e : old[i].e)
      if (current(e, pool)) place(e.hash, e.handle, e.flags, pool);
  if (old != nullptr) munmap(old, size_t{old_buckets} * sizeof(Bucket));
  return true;
}

}  // namespace tmc::dedup
