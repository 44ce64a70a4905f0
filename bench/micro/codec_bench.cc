// Per-page codec costs: compress and decompress one 4 KiB page with lz4, zstd -1 and
// zstd -3, and the same-filled check that runs before them. The numbers are the floor
// under eviction and fault service; compare those paths against these.
//
// Pages are generated deterministically (tests/unit/codec/sample_pages.h): a Redis-like
// heap (dict entries, object headers, sds keys and JSON values in jemalloc slots), JSON
// records, English-like text and numeric arrays, and "mixed", which cycles through all
// four. Each benchmark walks a set of 256 distinct pages so that neither the data nor
// the codec's tables sit in L1 from the previous iteration more than they would when the
// reclaimer walks a batch of pages.
//
// Counters: bytes_per_second (of uncompressed pages), ratio (page bytes / blob bytes over
// the set), fit (fraction of pages that meet TMC_MIN_SAVING=25%, i.e. blob <= 3072).
// Run: build/bench/bench_codec [--benchmark_filter=compress/lz4]
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "../../tests/unit/codec/sample_pages.h"
#include "codec/codec.h"
#include "codec/same_filled.h"

namespace {

using tmc::codec::CodecKind;
using tmc::codec::Encoded;
using tmc::codec::kPageSize;
using tmc::codec::PageCodec;
namespace samples = tmc::codec::testing;

constexpr size_t kPages = 256;
constexpr size_t kMaxBlob = kPageSize * 3 / 4;

struct alignas(64) Page {
  unsigned char b[kPageSize];
};

struct Backend {
  const char* name;
  CodecKind kind;
  int level;
};
const Backend kBackends[] = {
    {"lz4", CodecKind::kLz4, 0}, {"zstd-1", CodecKind::kZstd, 1}, {"zstd-3", CodecKind::kZstd, 3}};

// kinds: 0..3 one sample kind each, 4 = all four in turn.
constexpr int kMixed = 4;
const char* set_name(int kinds) {
  return kinds == kMixed ? "mixed" : samples::sample_name(samples::kAllSampleKinds[kinds]);
}

std::vector<Page> make_pages(int kinds) {
  std::vector<Page> pages(kPages);
  for (size_t i = 0; i < kPages; ++i) {
    samples::SampleKind k = samples::kAllSampleKinds[kinds == kMixed ? i % 4 : kinds];
    samples::make_sample_page(k, 1000 + i, pages[i].b);
  }
  return pages;
}

void set_codec_counters(benchmark::State& state, uint64_t blob_bytes, size_t fit) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPageSize));
  state.counters["ratio"] = static_cast<double>(kPages * kPageSize) / blob_bytes;
  state.counters["fit"] = static_cast<double>(fit) / kPages;
}

// Measures the sizes over the whole set once (not timed).
void measure_set(PageCodec& codec, const std::vector<Page>& pages, uint64_t* blob_bytes,
                 size_t* fit) {
  static Page out[2];
  *blob_bytes = 0;
  *fit = 0;
  for (const Page& p : pages) {
    Encoded e = codec.encode(p.b, out, sizeof(out), kPageSize);
    *blob_bytes += e.kind == Encoded::Kind::kCompressed ? e.size : kPageSize;
    *fit += e.kind == Encoded::Kind::kCompressed && e.size <= kMaxBlob;
  }
}

void BM_Compress(benchmark::State& state, Backend backend, int kinds) {
  PageCodec codec;
  if (!codec.init(backend.kind, backend.level)) {
    state.SkipWithError("codec init failed");
    return;
  }
  std::vector<Page> pages = make_pages(kinds);
  Page out[2];
  size_t i = 0;
  for (auto _ : state) {
    // Reclaimer's call: demand 25% saving.
    Encoded e = codec.encode(pages[i].b, out, sizeof(out), kMaxBlob);
    benchmark::DoNotOptimize(e);
    benchmark::ClobberMemory();
    i = (i + 1) % kPages;
  }
  uint64_t blob_bytes;
  size_t fit;
  measure_set(codec, pages, &blob_bytes, &fit);
  set_codec_counters(state, blob_bytes, fit);
}

void BM_Decompress(benchmark::State& state, Backend backend, int kinds) {
  PageCodec codec;
  if (!codec.init(backend.kind, backend.level)) {
    state.SkipWithError("codec init failed");
    return;
  }
  std::vector<Page> pages = make_pages(kinds);
  // Blobs of every page (no saving demanded, so each page has one), back to back.
  std::vector<unsigned char> blobs(kPages * 2 * kPageSize);
  std::vector<uint32_t> offset(kPages), size(kPages);
  uint32_t at = 0;
  for (size_t i = 0; i < kPages; ++i) {
    Encoded e = codec.encode(pages[i].b, &blobs[at], 2 * kPageSize, kPageSize);
    if (e.kind != Encoded::Kind::kCompressed) {
      state.SkipWithError("a sample page does not compress");
      return;
    }
    offset[i] = at;
    size[i] = e.size;
    at += e.size;
  }
  Page out;
  size_t i = 0;
  for (auto _ : state) {
    bool ok = codec.decode(&blobs[offset[i]], size[i], out.b);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
    i = (i + 1) % kPages;
  }
  if (memcmp(out.b, pages[(i + kPages - 1) % kPages].b, kPageSize) != 0)
    state.SkipWithError("round trip mismatch");
  uint64_t blob_bytes;
  size_t fit;
  measure_set(codec, pages, &blob_bytes, &fit);
  set_codec_counters(state, blob_bytes, fit);
}

// The check that runs on every page first. Realistic pages differ at once, and so does a
// page whose last word differs (the last word is looked at early); a zero page costs a
// full pass, one that differs in its middle half a pass.
void BM_SameFilled(benchmark::State& state, int which) {
  std::vector<Page> pages = which == 0 ? make_pages(kMixed) : std::vector<Page>(kPages);
  if (which != 0) {
    for (Page& p : pages) {
      memset(p.b, 0, kPageSize);
      if (which == 2) p.b[kPageSize - 1] = 1;
      if (which == 3) p.b[kPageSize / 2] = 1;
    }
  }
  size_t i = 0;
  uint64_t word = 0;
  for (auto _ : state) {
    bool same = tmc::codec::is_same_filled(pages[i].b, &word);
    benchmark::DoNotOptimize(same);
    i = (i + 1) % kPages;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPageSize));
}

// The seeded hash of a page (TMC_VERIFY's, and dedup's key), taken at eviction and again
// when the page comes back.
void BM_PageHash(benchmark::State& state) {
  std::vector<Page> pages = make_pages(kMixed);
  size_t i = 0;
  for (auto _ : state) {
    uint64_t h = tmc::codec::page_hash(pages[i].b, 0x9e3779b97f4a7c15ull);
    benchmark::DoNotOptimize(h);
    i = (i + 1) % kPages;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPageSize));
}

// Compressing a zero page through the codec: the check answers, no compressor runs.
void BM_EncodeZeroPage(benchmark::State& state) {
  PageCodec codec;
  codec.init(CodecKind::kLz4);
  Page page, out[2];
  memset(page.b, 0, kPageSize);
  for (auto _ : state) {
    Encoded e = codec.encode(page.b, out, sizeof(out), kMaxBlob);
    benchmark::DoNotOptimize(e);
  }
}

void register_all() {
  for (const Backend& b : kBackends) {
    for (int kinds = 0; kinds <= kMixed; ++kinds) {
      std::string suffix = std::string(b.name) + "/" + set_name(kinds);
      benchmark::RegisterBenchmark(("compress/" + suffix).c_str(), BM_Compress, b, kinds);
      benchmark::RegisterBenchmark(("decompress/" + suffix).c_str(), BM_Decompress, b, kinds);
    }
  }
  benchmark::RegisterBenchmark("same_filled/realistic", BM_SameFilled, 0);
  benchmark::RegisterBenchmark("same_filled/zero_page", BM_SameFilled, 1);
  benchmark::RegisterBenchmark("same_filled/last_byte_differs", BM_SameFilled, 2);
  benchmark::RegisterBenchmark("same_filled/middle_byte_differs", BM_SameFilled, 3);
  benchmark::RegisterBenchmark("encode/zero_page", BM_EncodeZeroPage);
  benchmark::RegisterBenchmark("page_hash/mixed", BM_PageHash);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
