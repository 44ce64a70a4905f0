// The allocation-site profile's tables: the call stacks ("sites") that allocated sampled
// objects, and the sampled objects still alive. sampler.h decides what to sample and owns
// the one table of the process; this module only keeps the books, so it is unit-tested on
// its own.
//
// Estimates: an allocation of n bytes is sampled with probability p = 1 - exp(-n/R) (R the
// mean sampling interval in bytes, TMC_SITE_SAMPLE), so each sample stands for 1/p objects
// and usable/p bytes (usable: jemalloc's size for it), the unbiased estimate tcmalloc's and
// jemalloc's heap profilers use. Everything per site below is a sum of such weights.
//
// Memory: nothing here touches the managed heap or calls malloc (the table is used from
// inside malloc). Sites are a dense array reserved once (kMaxSites) and touched as it
// fills; live samples are an open-addressing table that starts small and doubles (mmap).
// When the site array is full, new stacks are counted under site 0, "other".
//
// Filters: two arrays of counters that free() and the fault thread read without the lock,
// to tell in one load that a pointer (a page) holds no sample. A counter is raised for
// every live sample hashing to it and lowered when the sample goes; a nonzero counter is a
// maybe (other samples may share it), zero is a certain no. Counters saturate at 255 and
// then stay up (a false maybe forever; it costs one lookup).
//
// Threads: every member function needs the caller's lock (sampler.h), except the two
// filter reads.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tmc::sites {

inline constexpr uint32_t kMaxFrames = 16;
inline constexpr uint32_t kMaxSites = 8192;
// A sample marks at most this many pages in the page filter: faults beyond the first 64 KiB
// of a large object are not attributed. Marking is paid at every sample and its free, and a
// program that grows buffers of a MiB by realloc (each realloc counts its whole size
// towards the next sample) spent 7% of its time marking 256 pages.
inline constexpr uint64_t kMaxFilterPages = 16;
inline constexpr uint32_t kOtherSite = 0;

struct Site {
  uint64_t stack_hash;
  uintptr_t frames[kMaxFrames];  // return addresses, innermost first, libtmc's own left out
  uint32_t depth;
  uint32_t live_samples;
  uint64_t samples_total;   // samples ever taken here
  double live_objects;      // sum of 1/p over live samples
  double live_bytes;        // sum of usable/p over live samples
  double freed_objects;     // sum of 1/p over samples freed
  double lifetime_ns;       // sum of lifetime/p over samples freed
  double faults;            // sum of 1/p over faults on a live sample's pages
};

struct Sample {
  uintptr_t ptr;  // 0 = empty slot
  uint64_t usable;
  double weight;  // 1/p
  uint64_t alloc_ns;
  uint32_t site;
};

class SiteTable {
 public:
  // Reserves the site array and the first sample table. False if mmap fails.
  bool init();
  bool ready() const { return sites_ != nullptr; }

  // The site of this stack (hash: of the frames, by the caller), created if new; the
  // "other" site when the array is full.
  uint32_t site_for(const uintptr_t* frames, uint32_t depth, uint64_t stack_hash);

  // Records a live sample. A live sample already at `ptr` (freed through a path libtmc does
  // not see, such as a free inside a signal handler that interrupted the sampler) is
  // counted freed first. False when the sample table cannot grow (mmap failed): dropped.
  bool add_sample(uintptr_t ptr, uint64_t usable, double weight, uint32_t site, uint64_t now_ns);

  // The object at ptr was freed: true if it was a sample (now counted freed).
  bool remove_sample(uintptr_t ptr, uint64_t now_ns);

  // Faults on these pages (page addresses, sorted ascending; repeats count again) are
  // added to the sites of the live samples on them.
  void attribute_faults(const uintptr_t* sorted_pages, size_t n);

  // Lock-free reads for the fast paths (see the header comment).
  bool maybe_sampled(const void* p) const {
    return __atomic_load_n(&ptr_filter_[ptr_slot(reinterpret_cast<uintptr_t>(p))], __ATOMIC_RELAXED) != 0;
  }
  bool maybe_sampled_page(uintptr_t page) const {
    return __atomic_load_n(&page_filter_[page_slot(page)], __ATOMIC_RELAXED) != 0;
  }

  uint32_t site_count() const { return site_count_; }
  const Site& site(uint32_t i) const { return sites_[i]; }
  uint64_t live_samples() const { return live_; }
  // Copies at most `max` live samples out (for a report made outside the lock).
  size_t copy_samples(Sample* out, size_t max) const;
  // Bytes of libtmc's memory the tables use (touched or not, mapped).
  size_t mapped_bytes() const;

  // Checks the books: per-site live counts add up to the table's, no sample names a site
  // that does not exist, every live sample's filter counters are up. For tests.
  bool is_valid() const;

 private:
  static constexpr uint32_t kPtrFilterBits = 17;
  static constexpr uint32_t kPageFilterBits = 16;
  static constexpr size_t kFirstSampleSlots = 1024;

  static size_t ptr_slot(uintptr_t p) { return static_cast<size_t>(((p >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - kPtrFilterBits)); }
  static size_t page_slot(uintptr_t page) {
    return static_cast<size_t>(((page >> 12) * 0x9E3779B97F4A7C15ull) >> (64 - kPageFilterBits));
  }
  size_t sample_home(uintptr_t p) const { return static_cast<size_t>(((p >> 4) * 0xD6E8FEB86659FD93ull) >> 32) & (sample_slots_ - 1); }

  void mark(const Sample& s, int delta);
  void count_freed(const Sample& s, uint64_t now_ns);
  Sample* find(uintptr_t ptr);
  void erase_slot(size_t i);
  bool grow_samples();

  Site* sites_ = nullptr;
  uint32_t site_count_ = 0;
  uint32_t* site_index_ = nullptr;  // open addressing: site id + 1, 0 = empty; 2 * kMaxSites slots
  Sample* samples_ = nullptr;
  size_t sample_slots_ = 0;  // a power of two
  size_t live_ = 0;
  uint8_t ptr_filter_[size_t{1} << kPtrFilterBits] = {};
  uint8_t page_filter_[size_t{1} << kPageFilterBits] = {};
};

}  // namespace tmc::sites
