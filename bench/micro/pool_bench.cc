// Pool costs per blob: store + release in steady state, the same with span creation and
// return included (batches), churn in a full pool (release a random blob, store a new
// one), a data() lookup, and compaction. Also the two paths the pool sits on: evict
// (same-filled check + lz4 compress + store) and fetch (data + lz4 decompress), to set
// against the raw codec numbers of bench_codec.
//
// Blobs are real: lz4 and zstd -1 blobs of the Redis-like sample pages
// (tests/unit/codec/sample_pages.h), about 1.9 KiB and 1.4 KiB.
// Run: build/bench/bench_pool
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "../../tests/unit/codec/sample_pages.h"
#include "codec/codec.h"
#include "pool/pool.h"

namespace {

using tmc::codec::CodecKind;
using tmc::codec::Encoded;
using tmc::codec::kPageSize;
using tmc::codec::PageCodec;
using tmc::pool::Handle;
using tmc::pool::Pool;
namespace samples = tmc::codec::testing;

constexpr size_t kPages = 256;

struct alignas(64) Page {
  unsigned char b[kPageSize];
};

struct BlobSet {
  std::vector<Page> pages;
  std::vector<unsigned char> bytes;
  std::vector<uint32_t> offset, size;
  const void* blob(size_t i) const { return &bytes[offset[i]]; }
};

// Blobs of kPages Redis-like pages made by the given codec.
const BlobSet& blobs(CodecKind kind) {
  static BlobSet sets[2];
  BlobSet& s = sets[kind == CodecKind::kLz4 ? 0 : 1];
  if (!s.pages.empty()) return s;
  PageCodec codec;
  codec.init(kind, 1);
  s.pages.resize(kPages);
  s.bytes.resize(kPages * 2 * kPageSize);
  uint32_t at = 0;
  for (size_t i = 0; i < kPages; ++i) {
    samples::make_sample_page(samples::SampleKind::kRedisHeap, 5000 + i, s.pages[i].b);
    Encoded e = codec.encode(s.pages[i].b, &s.bytes[at], 2 * kPageSize, kPageSize);
    s.offset.push_back(at);
    s.size.push_back(e.size);
    at += e.size;
  }
  return s;
}

void per_blob_counters(benchmark::State& state, const BlobSet& set, uint64_t blobs_per_iter) {
  uint64_t bytes = 0;
  for (uint32_t n : set.size) bytes += n;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * blobs_per_iter));
  state.counters["blob_bytes"] = static_cast<double>(bytes) / kPages;
}

// Store a blob and release it at once: the slot and span are reused every time.
void BM_StoreRelease(benchmark::State& state) {
  const BlobSet& set = blobs(CodecKind::kLz4);
  auto pool = std::make_unique<Pool>();
  size_t i = 0;
  for (auto _ : state) {
    Handle h = pool->store(set.blob(i), set.size[i]);
    pool->release(h);
    i = (i + 1) % kPages;
  }
  per_blob_counters(state, set, 1);
}

// Store a batch of blobs, then release them all: includes creating spans (mmap'd chunk
// memory faulted in on first write) and giving them back (MADV_DONTNEED).
void BM_StoreReleaseBatch(benchmark::State& state) {
  const BlobSet& set = blobs(CodecKind::kLz4);
  const size_t batch = static_cast<size_t>(state.range(0));
  auto pool = std::make_unique<Pool>();
  std::vector<Handle> hs(batch);
  for (auto _ : state) {
    for (size_t i = 0; i < batch; ++i)
      hs[i] = pool->store(set.blob(i % kPages), set.size[i % kPages]);
    for (size_t i = 0; i < batch; ++i) pool->release(hs[i]);
  }
  per_blob_counters(state, set, batch);
  for (size_t i = 0; i < batch; ++i)
    hs[i] = pool->store(set.blob(i % kPages), set.size[i % kPages]);
  state.counters["pool_MiB_peak"] = pool->pool_bytes() / 1048576.0;
  state.counters["pool_over_compr"] =
      static_cast<double>(pool->pool_bytes()) / static_cast<double>(pool->compr_bytes());
}

// A full pool (200k blobs, ~370 MiB): release a random blob and store another, as the
// reclaimer and fault service do in steady state.
void BM_Churn(benchmark::State& state) {
  const BlobSet& set = blobs(CodecKind::kLz4);
  constexpr size_t kLive = 200000;
  auto pool = std::make_unique<Pool>();
  std::vector<Handle> hs(kLive);
  for (size_t i = 0; i < kLive; ++i)
    hs[i] = pool->store(set.blob(i % kPages), set.size[i % kPages]);
  std::mt19937_64 rng(1);
  size_t i = 0;
  for (auto _ : state) {
    size_t k = rng() % kLive;
    pool->release(hs[k]);
    hs[k] = pool->store(set.blob(i), set.size[i]);
    i = (i + 1) % kPages;
  }
  per_blob_counters(state, set, 1);
  state.counters["pool_over_compr"] =
      static_cast<double>(pool->pool_bytes()) / static_cast<double>(pool->compr_bytes());
}

void BM_Data(benchmark::State& state) {
  const BlobSet& set = blobs(CodecKind::kLz4);
  constexpr size_t kLive = 100000;
  auto pool = std::make_unique<Pool>();
  std::vector<Handle> hs(kLive);
  for (size_t i = 0; i < kLive; ++i)
    hs[i] = pool->store(set.blob(i % kPages), set.size[i % kPages]);
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    uint32_t size;
    const void* p = pool->data(hs[rng() % kLive], &size);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Compaction of a pool of 100k blobs after 75% were released at random: the time of one
// compact() call and the memory it gave back.
void BM_Compact(benchmark::State& state) {
  const BlobSet& set = blobs(CodecKind::kLz4);
  constexpr size_t kLive = 100000;
  uint64_t released = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto pool = std::make_unique<Pool>();
    std::vector<Handle> hs(kLive);
    for (size_t i = 0; i < kLive; ++i)
      hs[i] = pool->store(set.blob(i % kPages), set.size[i % kPages]);
    std::mt19937_64 rng(3);
    std::shuffle(hs.begin(), hs.end(), rng);
    for (size_t i = kLive / 4; i < kLive; ++i) pool->release(hs[i]);
    state.ResumeTiming();
    released += pool->compact();
    state.PauseTiming();
    pool.reset();
    state.ResumeTiming();
  }
  state.counters["released_MiB"] = released / 1048576.0 / state.iterations();
}

// The same pool compacted the reclaimer's way (reclaim/reclaimer.cc): one compact_step()
// of 256 KiB moved per iteration, the time a fault reading a blob can wait for pool_lock_.
void BM_CompactStep(benchmark::State& state) {
  const BlobSet& set = blobs(CodecKind::kLz4);
  constexpr size_t kLive = 100000;
  std::unique_ptr<Pool> pool;
  bool more = false;
  for (auto _ : state) {
    if (!more) {
      state.PauseTiming();
      pool = std::make_unique<Pool>();
      std::vector<Handle> hs(kLive);
      for (size_t i = 0; i < kLive; ++i)
        hs[i] = pool->store(set.blob(i % kPages), set.size[i % kPages]);
      std::mt19937_64 rng(3);
      std::shuffle(hs.begin(), hs.end(), rng);
      for (size_t i = kLive / 4; i < kLive; ++i) pool->release(hs[i]);
      state.ResumeTiming();
    }
    more = pool->compact_step(size_t{256} << 10);
  }
}

// The eviction path's CPU part: same-filled check, compress (25% saving), store.
void BM_EvictPath(benchmark::State& state, CodecKind kind) {
  const BlobSet& set = blobs(kind);
  PageCodec codec;
  codec.init(kind, 1);
  auto pool = std::make_unique<Pool>();
  Page out[2];
  std::vector<Handle> hs;
  hs.reserve(1 << 16);
  size_t i = 0;
  for (auto _ : state) {
    Encoded e = codec.encode(set.pages[i].b, out, sizeof(out), kPageSize * 3 / 4);
    if (e.kind == Encoded::Kind::kCompressed) hs.push_back(pool->store(out, e.size));
    i = (i + 1) % kPages;
    if (hs.size() == hs.capacity()) {  // keep the pool bounded; not timed
      state.PauseTiming();
      for (Handle h : hs) pool->release(h);
      hs.clear();
      state.ResumeTiming();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPageSize));
}

// The fault path's CPU part: find the blob, decompress into a page.
void BM_FetchPath(benchmark::State& state, CodecKind kind) {
  const BlobSet& set = blobs(kind);
  PageCodec codec;
  codec.init(kind, 1);
  auto pool = std::make_unique<Pool>();
  std::vector<Handle> hs(kPages);
  for (size_t i = 0; i < kPages; ++i) hs[i] = pool->store(set.blob(i), set.size[i]);
  Page out;
  size_t i = 0;
  for (auto _ : state) {
    uint32_t size;
    const void* p = pool->data(hs[i], &size);
    bool ok = codec.decode(p, size, out.b);
    benchmark::DoNotOptimize(ok);
    i = (i + 1) % kPages;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPageSize));
}

}  // namespace

BENCHMARK(BM_StoreRelease)->Name("pool/store_release");
BENCHMARK(BM_StoreReleaseBatch)->Name("pool/store_release_batch")->Arg(4096)->Arg(65536);
BENCHMARK(BM_Churn)->Name("pool/churn_full_pool");
BENCHMARK(BM_Data)->Name("pool/data");
BENCHMARK(BM_Compact)
    ->Name("pool/compact_after_75pct_freed")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_CompactStep)->Name("pool/compact_step_256k")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_EvictPath, lz4, CodecKind::kLz4)->Name("path/evict/lz4");
BENCHMARK_CAPTURE(BM_EvictPath, zstd1, CodecKind::kZstd)->Name("path/evict/zstd-1");
BENCHMARK_CAPTURE(BM_FetchPath, lz4, CodecKind::kLz4)->Name("path/fetch/lz4");
BENCHMARK_CAPTURE(BM_FetchPath, zstd1, CodecKind::kZstd)->Name("path/fetch/zstd-1");

BENCHMARK_MAIN();
