// A cache whose small per-entry headers are read all the time while its payloads, allocated
// right after them and of the same jemalloc size class, are almost never read: the shape
// hot/cold segregation by allocation site (TMC_SEGREGATE) is for. Without it every page
// holds headers and payloads alike, so no page is cold; with it new payloads go to pages of
// their own.
//
//   bench_hotcold_cache [--entries N] [--chunks C] [--fill-seconds F] [--seconds S]
//                       [--payload-reads PER_MILLION] [--churn PER_MILLE] [--seed X]
//
// Each entry: a 200-byte header (make_header) and C payload chunks of 208 bytes
// (make_payload), all in jemalloc's 224-byte class, allocated interleaved. The cache fills
// up over the first F seconds (default 60; 0: all at once before the clock starts), as a
// cache warms up, and the run lasts S seconds in all. Throughout, one thread picks an
// inserted entry uniformly and checks its header; PER_MILLION of the picks also check the
// whole payload (default 10: an entry's payload is read once in 100000 picks, so payload
// pages stay idle for minutes); --churn PER_MILLE of the picks (default 0) replace the
// entry (free all, allocate new ones). Every byte read is checked against what was written
// (a failed check exits 3).
//
// Output: one line per second, "second=T ops=N rss_mib=M faults=F cold_arena_mib=C" (faults
// and cold arena from libtmc's stats when it is preloaded, else 0), then one summary line
//   hotcold_cache ops_per_s=R rss_mib=M faults_per_s=F ... malloc_from=LIB check=ok
// whose figures are the means over the second half of the run (after the fill, when F is at
// most S/2).
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../workloads/workload_common.h"
#include "tmc/tmc.h"

namespace {

constexpr size_t kHeader = 200, kChunk = 208;

// Content: text-like records (a cache of JSON-ish values compresses about 3x), a function
// of (entry, generation, part), so any byte can be checked later.
void fill(char* dst, size_t n, uint64_t entry, uint32_t gen, uint32_t part) {
  bench::Rng rng(entry * 1000003 + gen * 101 + part);
  static const char* const kWords[] = {"\"user\":", "\"id\":", "\"name\":\"", "\"score\":", "\"tags\":[",
                                       "\"active\":true,", "\"city\":\"", "\"ts\":", "\"items\":", "\"note\":\""};
  size_t i = 0;
  while (i < n) {
    const char* w = kWords[rng.next() % 10];
    for (; *w != '\0' && i < n; ++w) dst[i++] = *w;
    uint64_t v = rng.next() % 100000;
    char num[16];
    int len = snprintf(num, sizeof(num), "%llu,", static_cast<unsigned long long>(v));
    for (int k = 0; k < len && i < n; ++k) dst[i++] = num[k];
  }
}

bool same(const char* got, size_t n, uint64_t entry, uint32_t gen, uint32_t part) {
  char want[kChunk > kHeader ? kChunk : kHeader];
  fill(want, n, entry, gen, part);
  return memcmp(want, got, n) == 0;
}

// The two allocation sites: not inlined, so each is its own caller of malloc.
__attribute__((noinline)) char* make_header() {
  char* p = static_cast<char*>(malloc(kHeader));
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
__attribute__((noinline)) char* make_payload() {
  char* p = static_cast<char*>(malloc(kChunk));
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

struct Entry {
  char* header;
  char** chunks;
  uint32_t gen;
};

uint64_t rss_bytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long pages = 0, resident = 0;
  int n = fscanf(f, "%lu %lu", &pages, &resident);
  fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

using StatsFn = int (*)(tmc_stats*);

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t entries = 300000, chunks = 3, fill_seconds = 60, seconds = 180, payload_reads = 10, churn = 0, seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    uint64_t v = strtoull(argv[i + 1], nullptr, 10);
    if (a == "--entries") entries = v;
    else if (a == "--chunks") chunks = v;
    else if (a == "--seconds") seconds = v;
    else if (a == "--fill-seconds") fill_seconds = v;
    else if (a == "--payload-reads") payload_reads = v;
    else if (a == "--churn") churn = v;
    else if (a == "--seed") seed = v;
    else return fprintf(stderr, "unknown option %s\n", argv[i]), 2;
  }
  if (argc % 2 == 0 || entries == 0 || chunks == 0 || seconds == 0 || fill_seconds > seconds)
    return fprintf(stderr, "usage: %s [--entries N] [--chunks C] [--fill-seconds F] [--seconds S] [--payload-reads PER_MILLION] [--churn PER_MILLE] [--seed X]\n", argv[0]), 2;
  auto stats = reinterpret_cast<StatsFn>(dlsym(RTLD_DEFAULT, "tmc_stats_get"));

  std::vector<Entry> cache(entries);
  auto make = [&](uint64_t i, uint32_t gen) {
    Entry& e = cache[i];
    e.gen = gen;
    e.header = make_header();
    fill(e.header, kHeader, i, gen, 0);
    for (uint64_t c = 0; c < chunks; ++c) {
      e.chunks[c] = make_payload();
      fill(e.chunks[c], kChunk, i, gen, static_cast<uint32_t>(c + 1));
    }
  };
  std::vector<char*> chunk_slots(entries * chunks);
  for (uint64_t i = 0; i < entries; ++i) cache[i].chunks = &chunk_slots[i * chunks];
  uint64_t inserted = 0;
  auto insert_until = [&](uint64_t target) {
    for (; inserted < target && inserted < entries; ++inserted) make(inserted, 0);
  };
  if (fill_seconds == 0) insert_until(entries);
  else insert_until(1);

  bench::Rng rng(seed);
  const double start = now_s();
  double next_report = start + 1;
  uint64_t ops = 0, ops_at_report = 0, second = 0;
  uint64_t faults_at_start = 0, last_faults = 0;
  if (stats != nullptr) {
    tmc_stats s{};
    stats(&s);
    faults_at_start = last_faults = s.faults;
  }
  // Means over the second half.
  double half_ops = 0, half_rss = 0, half_faults = 0;
  uint64_t half_n = 0;
  for (;;) {
    if (inserted < entries) {
      double done = (now_s() - start) / static_cast<double>(fill_seconds);
      insert_until(done >= 1 ? entries : static_cast<uint64_t>(done * static_cast<double>(entries)) + 1);
    }
    for (int k = 0; k < 1024; ++k, ++ops) {
      uint64_t i = rng.next() % inserted;
      Entry& e = cache[i];
      uint64_t roll = rng.next() % 1000000;
      BENCH_CHECK("hotcold_cache", same(e.header, 32, i, e.gen, 0));
      if (roll < payload_reads)
        for (uint64_t c = 0; c < chunks; ++c) BENCH_CHECK("hotcold_cache", same(e.chunks[c], kChunk, i, e.gen, static_cast<uint32_t>(c + 1)));
      if (roll >= 1000000 - churn * 1000) {
        BENCH_CHECK("hotcold_cache", same(e.header, kHeader, i, e.gen, 0));
        free(e.header);
        for (uint64_t c = 0; c < chunks; ++c) free(e.chunks[c]);
        make(i, e.gen + 1);
      }
    }
    double now = now_s();
    if (now < next_report) continue;
    next_report += 1;
    second++;
    uint64_t faults = 0, cold = 0;
    if (stats != nullptr) {
      tmc_stats s{};
      stats(&s);
      faults = s.faults;
      cold = s.cold_arena_bytes;
    }
    uint64_t rss = rss_bytes();
    printf("second=%llu ops=%llu rss_mib=%.1f faults=%llu cold_arena_mib=%.1f\n", static_cast<unsigned long long>(second),
           static_cast<unsigned long long>(ops - ops_at_report), static_cast<double>(rss) / (1 << 20),
           static_cast<unsigned long long>(faults - last_faults), static_cast<double>(cold) / (1 << 20));
    fflush(stdout);
    if (second > seconds / 2) {
      half_ops += static_cast<double>(ops - ops_at_report);
      half_rss += static_cast<double>(rss) / (1 << 20);
      half_faults += static_cast<double>(faults - last_faults);
      half_n++;
    }
    ops_at_report = ops;
    last_faults = faults;
    if (second >= seconds) break;
  }
  // Every entry, in full, once more.
  for (uint64_t i = 0; i < entries; ++i) {
    BENCH_CHECK("hotcold_cache", same(cache[i].header, kHeader, i, cache[i].gen, 0));
    for (uint64_t c = 0; c < chunks; ++c)
      BENCH_CHECK("hotcold_cache", same(cache[i].chunks[c], kChunk, i, cache[i].gen, static_cast<uint32_t>(c + 1)));
  }
  printf("hotcold_cache entries=%llu chunks=%llu fill_seconds=%llu seconds=%llu ops_per_s=%.0f rss_mib=%.1f faults_per_s=%.1f total_faults=%llu "
         "malloc_from=%s check=ok\n",
         static_cast<unsigned long long>(entries), static_cast<unsigned long long>(chunks),
         static_cast<unsigned long long>(fill_seconds), static_cast<unsigned long long>(seconds),
         half_ops / static_cast<double>(half_n), half_rss / static_cast<double>(half_n), half_faults / static_cast<double>(half_n),
         static_cast<unsigned long long>(last_faults - faults_at_start), bench::malloc_from().c_str());
  return 0;
}
