#include "heap.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../../tests/unit/codec/sample_pages.h"

namespace acc {
namespace samples = tmc::codec::testing;

void make_page(uint64_t seed, size_t i, void* out) {
  // Only the kinds that compress (Redis-like heap, JSON records, text): numeric arrays save
  // less than TMC_MIN_SAVING with lz4 and stay resident by design, which would mix a
  // policy libtmc states with the detection accuracy this benchmark measures.
  static constexpr samples::SampleKind kKinds[] = {samples::SampleKind::kRedisHeap,
                                                   samples::SampleKind::kJson, samples::SampleKind::kText};
  samples::make_sample_page(kKinds[i % 3], (seed << 40) ^ i, out, kPage);
}

bool Heap::allocate(uint64_t size_bytes, uint64_t chunk_bytes) {
  page_shift_ = static_cast<unsigned>(__builtin_ctzll(chunk_bytes / kPage));
  page_mask_ = (size_t{1} << page_shift_) - 1;
  size_t n = size_bytes / chunk_bytes;
  chunks_.allocate(n);
  for (size_t c = 0; c < n; ++c) {
    // aligned_alloc is malloc'd memory like any other; the alignment makes every page of a
    // chunk a whole page of data (jemalloc aligns these large sizes to pages anyway).
    chunks_[c] = static_cast<char*>(aligned_alloc(kPage, chunk_bytes));
    if (chunks_[c] == nullptr) {
      fprintf(stderr, "bench_hotset: malloc of chunk %zu of %zu (%llu bytes) failed\n", c, n,
              static_cast<unsigned long long>(chunk_bytes));
      return false;
    }
  }
  return true;
}

void Heap::fill(uint64_t seed) {
  for (size_t i = 0; i < pages(); ++i) make_page(seed, i, page(i));
}

bool Heap::intact(uint64_t seed, size_t i, unsigned char* scratch) const {
  make_page(seed, i, scratch);
  return memcmp(page(i), scratch, kPage) == 0;
}

void Heap::report_mismatch(uint64_t seed, size_t i, unsigned char* scratch, const char* what) const {
  make_page(seed, i, scratch);
  const auto* got = reinterpret_cast<const unsigned char*>(page(i));
  size_t off = 0, differ = 0;
  for (size_t k = kPage; k-- > 0;) {
    if (got[k] != scratch[k]) {
      off = k;
      ++differ;
    }
  }
  bool zero = true;
  for (size_t k = 0; k < kPage && zero; ++k) zero = got[k] == 0;
  fprintf(stderr, "bench_hotset: MISMATCH in %s page %zu at %p: %zu bytes differ, the first at +%zu; it reads %s\n",
          what, i, static_cast<const void*>(got), differ, off, zero ? "all zero (lost)" : "non-zero");
}

}  // namespace acc
