// The benchmark's data: --size bytes malloc'd in --chunk objects (a heap, as libtmc manages
// only malloc'd memory), every page filled with realistic compressible records that are a
// function of (seed, page index), so that any page can be checked later without a copy.
#pragma once

#include <cstddef>
#include <cstdint>

#include "outside_heap.h"

namespace acc {

inline constexpr size_t kPage = 4096;

class Heap {
 public:
  // Allocates size/chunk objects; false (with errno-style message on stderr) if malloc fails.
  bool allocate(uint64_t size_bytes, uint64_t chunk_bytes);
  void fill(uint64_t seed);

  size_t pages() const { return chunks_.size() << page_shift_; }
  size_t chunks() const { return chunks_.size(); }
  size_t pages_per_chunk() const { return size_t{1} << page_shift_; }
  char* chunk(size_t c) const { return chunks_[c]; }
  // Page i of the data: chunks are page-aligned, so page i is whole and belongs to one chunk.
  char* page(size_t i) const { return chunks_[i >> page_shift_] + ((i & page_mask_) * kPage); }

  // Whether page i still holds its original contents; scratch is kPage bytes to make them in.
  bool intact(uint64_t seed, size_t i, unsigned char* scratch) const;
  // Compares every page with its original contents; calls on_mismatch(i, scratch) for each
  // page i that differs, with its original contents in scratch.
  template <typename F>
  void check_all(uint64_t seed, F&& on_mismatch) const {
    OutsideArray<unsigned char> scratch;
    scratch.allocate(kPage);
    for (size_t i = 0; i < pages(); ++i)
      if (!intact(seed, i, scratch.data())) on_mismatch(i, scratch.data());
  }
  // One line on stderr about how page i differs (`what` names its set: "cold", "hot").
  void report_mismatch(uint64_t seed, size_t i, unsigned char* scratch, const char* what) const;

 private:
  OutsideArray<char*> chunks_;
  unsigned page_shift_ = 0;
  size_t page_mask_ = 0;
};

// The original contents of page i, into out (kPage bytes).
void make_page(uint64_t seed, size_t i, void* out);

}  // namespace acc
