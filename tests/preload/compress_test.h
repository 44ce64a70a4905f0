// Shared helpers for the compression engine's data-safety tests (tests/preload/compress_*):
// reading libtmc's statistics, waiting on them, skipping where userfaultfd cannot work,
// realistic page contents (JSON-like text records with numbers, compressible like a real
// heap), and mismatch reports that say what went wrong with a page.
//
// Every test REQUIREs that evictions (and, where it touches evicted pages, faults) really
// happened before its checks count: a test that passes without the engine doing anything
// proves nothing.
#pragma once

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <atomic>
#include <thread>

#include "tmc/tmc.h"
#include "tmc_test.h"

namespace ct {

inline constexpr size_t kPage = 4096;

inline double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline void sleep_ms(double ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms - 1000.0 * static_cast<double>(static_cast<long>(ms / 1000))) * 1e6)};
  nanosleep(&ts, nullptr);
}

using StatsFn = int (*)(tmc_stats*);

// tmc_stats_get from the preloaded libtmc, or null.
inline StatsFn stats_fn() {
  static StatsFn fn = reinterpret_cast<StatsFn>(dlsym(RTLD_DEFAULT, "tmc_stats_get"));
  return fn;
}

inline tmc_stats stats() {
  tmc_stats s{};
  if (StatsFn fn = stats_fn()) fn(&s);
  return s;
}

// Pages the engine holds out of the application's page tables right now.
inline uint64_t evicted_now(const tmc_stats& s) { return s.compressed_pages + s.zero_pages + s.same_pages; }

inline void print_stats(const char* what, const tmc_stats& s) {
  printf("%s: evictions=%llu faults=%llu refaults=%llu compressed_pages=%llu zero_pages=%llu same_pages=%llu "
         "compr_bytes=%llu pool_bytes=%llu dict_bytes=%llu rss=%llu MiB fault p50/p99=%llu/%llu ns "
         "retained_pages=%llu retained_reused=%llu retained_changed=%llu\n",
         what, (unsigned long long)s.evictions, (unsigned long long)s.faults, (unsigned long long)s.refaults,
         (unsigned long long)s.compressed_pages, (unsigned long long)s.zero_pages, (unsigned long long)s.same_pages,
         (unsigned long long)s.compr_bytes, (unsigned long long)s.pool_bytes, (unsigned long long)s.dict_bytes,
         (unsigned long long)(s.rss_bytes >> 20), (unsigned long long)s.fault_ns_p50,
         (unsigned long long)s.fault_ns_p99, (unsigned long long)s.retained_pages,
         (unsigned long long)s.retained_reused, (unsigned long long)s.retained_changed);
  fflush(stdout);
}

// Polls the stats every 10 ms until pred(stats) holds or timeout_s passes. Returns whether
// it held.
template <typename Pred>
bool wait_stats(Pred pred, double timeout_s) {
  double end = now_s() + timeout_s;
  for (;;) {
    if (pred(stats())) return true;
    if (now_s() > end) return false;
    sleep_ms(10);
  }
}

// Exits 77 unless the test can mean something here: libtmc preloaded, and a full
// userfaultfd obtainable by this process (the engine needs what this probe needs).
inline void require_engine_environment(const char* name) {
  if (stats_fn() == nullptr) {
    fprintf(stderr, "%s: FAIL: not running under libtmc.so (no tmc_stats_get)\n", name);
    exit(1);
  }
  const char* compress = getenv("TMC_COMPRESS");
  if (compress && strcmp(compress, "0") == 0) {
    printf("%s: SKIP: TMC_COMPRESS=0\n", name);
    exit(TMC_TEST_SKIP);
  }
  int fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (fd < 0 && (errno == EPERM || errno == EACCES)) {
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
      close(dev);
    } else {
      printf("%s: SKIP: no full userfaultfd for this process (needs root or vm.unprivileged_userfaultfd=1)\n", name);
      exit(TMC_TEST_SKIP);
    }
  } else if (fd < 0) {
    printf("%s: SKIP: no userfaultfd on this kernel (%s)\n", name, strerror(errno));
    exit(TMC_TEST_SKIP);
  } else {
    close(fd);
  }
}

// VmHWM of this process, in bytes (0 if unreadable).
inline uint64_t peak_rss_bytes() {
  FILE* f = fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  unsigned long long kb = 0;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmHWM: %llu kB", &kb) == 1) break;
  fclose(f);
  return kb * 1024;
}

// How many of the pages of [p, p+n) (page-aligned inside) are present in this process's
// page tables, from /proc/self/pagemap (reading it does not fault pages in). -1 on error.
inline long present_pages(const void* p, size_t n) {
  uintptr_t a = (reinterpret_cast<uintptr_t>(p) + kPage - 1) & ~(kPage - 1);
  uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n) & ~(kPage - 1);
  if (e <= a) return 0;
  // Opened once per process: a forked child must not read its parent's page tables
  // through a descriptor the parent opened.
  static int fd = -1;
  static pid_t owner = 0;
  if (owner != getpid()) {
    if (fd >= 0) close(fd);
    fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    owner = getpid();
  }
  if (fd < 0) return -1;
  long present = 0;
  uint64_t buf[512];
  for (uintptr_t page = a; page < e;) {
    size_t count = (e - page) / kPage;
    if (count > 512) count = 512;
    ssize_t got = pread(fd, buf, count * 8, static_cast<off_t>(page / kPage * 8));
    if (got != static_cast<ssize_t>(count * 8)) return -1;
    for (size_t i = 0; i < count; ++i) present += (buf[i] >> 63) & 1;
    page += count * kPage;
  }
  return present;
}

// Waits until at most `max_present` of the pages of [p, p+n) are present (the rest were
// evicted), up to timeout_s. Returns the last count of present pages.
inline long wait_evicted(const void* p, size_t n, long max_present, double timeout_s) {
  double end = now_s() + timeout_s;
  for (;;) {
    long present = present_pages(p, n);
    if (present >= 0 && present <= max_present) return present;
    if (now_s() > end) return present;
    sleep_ms(5);
  }
}

// --- content ---------------------------------------------------------------------------

// splitmix64: cheap, allocation-free randomness for the tests.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x1234567ull) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  // log-uniform in [lo, hi]
  size_t size_between(size_t lo, size_t hi) {
    int lo_bits = 63 - __builtin_clzll(lo), hi_bits = 63 - __builtin_clzll(hi);
    int bits = lo_bits + static_cast<int>(below(static_cast<uint64_t>(hi_bits - lo_bits + 1)));
    size_t base = size_t{1} << bits;
    size_t n = base + below(base);
    return n < lo ? lo : (n > hi ? hi : n);
  }
};

inline char* put_str(char* p, char* end, const char* s) {
  while (*s && p < end) *p++ = *s++;
  return p;
}

inline char* put_u64(char* p, char* end, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n > 0 && p < end) *p++ = tmp[--n];
  return p;
}

// Fills [dst, dst+n) with JSON-like records, a function of seed alone: like a cache's
// values, about 2-3x compressible with lz4, never all zero.
inline void fill_text(void* dst, size_t n, uint64_t seed) {
  static const char* const kNames[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};
  static const char* const kTags[] = {"\"red\"", "\"green\"", "\"blue\"", "\"cold\"", "\"hot\"", "\"new\""};
  Rng r(seed);
  char* p = static_cast<char*>(dst);
  char* end = p + n;
  while (p < end) {
    uint64_t x = r.next();
    p = put_str(p, end, "{\"id\":");
    p = put_u64(p, end, x % 10000000);
    p = put_str(p, end, ",\"user\":\"");
    p = put_str(p, end, kNames[(x >> 24) & 7]);
    p = put_u64(p, end, (x >> 27) % 1000);
    p = put_str(p, end, "\",\"score\":");
    p = put_u64(p, end, (x >> 37) % 100);
    p = put_str(p, end, ".");
    p = put_u64(p, end, (x >> 44) % 90 + 10);
    p = put_str(p, end, ",\"active\":");
    p = put_str(p, end, (x >> 51) & 1 ? "true" : "false");
    p = put_str(p, end, ",\"tags\":[");
    p = put_str(p, end, kTags[(x >> 52) % 6]);
    p = put_str(p, end, ",");
    p = put_str(p, end, kTags[(x >> 56) % 6]);
    p = put_str(p, end, "],\"ts\":17");
    p = put_u64(p, end, 10000000 + r.next() % 90000000);
    p = put_str(p, end, "}\n");
  }
}

// The kinds of page content the engine treats differently.
enum class Fill { kText, kZero, kSame, kRandom };

inline const char* fill_name(Fill f) {
  switch (f) {
    case Fill::kText: return "text";
    case Fill::kZero: return "zero";
    case Fill::kSame: return "same-filled";
    case Fill::kRandom: return "random";
  }
  return "?";
}

inline void fill_random(void* dst, size_t n, uint64_t seed) {
  Rng r(seed);
  auto* p = static_cast<unsigned char*>(dst);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = r.next();
    memcpy(p + i, &v, 8);
  }
  for (uint64_t v = r.next(); i < n; ++i, v >>= 8) p[i] = static_cast<unsigned char>(v);
}

// An 8-byte word repeated (the same-filled state), never zero.
inline uint64_t same_word(uint64_t seed) { return (seed * 0x9E3779B97F4A7C15ull) | 1; }

inline void fill_same(void* dst, size_t n, uint64_t seed, size_t phase = 0) {
  uint64_t w = same_word(seed);
  auto* p = static_cast<unsigned char*>(dst);
  const auto* wb = reinterpret_cast<const unsigned char*>(&w);
  for (size_t i = 0; i < n; ++i) p[i] = wb[(phase + i) & 7];
}

inline void fill(Fill f, void* dst, size_t n, uint64_t seed) {
  switch (f) {
    case Fill::kText: fill_text(dst, n, seed); break;
    case Fill::kZero: memset(dst, 0, n); break;
    case Fill::kSame: fill_same(dst, n, seed); break;
    case Fill::kRandom: fill_random(dst, n, seed); break;
  }
}

// --- reports ---------------------------------------------------------------------------

inline bool all_zero(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i]) return false;
  return true;
}

// Describes how `got` differs from `want` (n bytes at address `at`) on stderr: the first
// differing byte, how many differ, and for the page holding the first difference whether it
// reads all zero (a page lost or purged) or equals an older content (`older`, optional).
inline void report_mismatch(const char* what, const void* at, const void* got, const void* want, size_t n) {
  const auto* g = static_cast<const unsigned char*>(got);
  const auto* w = static_cast<const unsigned char*>(want);
  size_t first = n, bad = 0;
  for (size_t i = 0; i < n; ++i) {
    if (g[i] != w[i]) {
      if (first == n) first = i;
      ++bad;
    }
  }
  if (first == n) return;
  uintptr_t addr = reinterpret_cast<uintptr_t>(at) + first;
  uintptr_t page = addr & ~(kPage - 1);
  size_t page_off = page > reinterpret_cast<uintptr_t>(at) ? page - reinterpret_cast<uintptr_t>(at) : 0;
  size_t page_len = n - page_off < kPage ? n - page_off : kPage;
  bool zero_page = all_zero(g + page_off, page_len);
  fprintf(stderr,
          "MISMATCH %s: %zu of %zu bytes differ; first at +%zu (address %p, page %p): got 0x%02x want 0x%02x; "
          "that page reads %s\n",
          what, bad, n, first, reinterpret_cast<void*>(addr), reinterpret_cast<void*>(page), g[first], w[first],
          zero_page ? "ALL ZERO" : "non-zero");
  fflush(stderr);
}

// A heap of N pages of realistic text (fill_text), each from a seed of its own, or zeros:
// what every page must hold is known without a copy. Streams of neighbouring Rng seeds are
// the same stream shifted by a step, so pages filled from seeds n and n+1 would be near
// copies that a dictionary packs to nothing: each page's seed is drawn from its number
// (page_seed), as real heap pages differ.
template <size_t N>
struct SeededHeap {
  static constexpr size_t kPages = N;
  char* pages;
  uint64_t seed[N];  // each page holds fill_text(seed), or zeros
  bool zero[N];

  static uint64_t page_seed(uint64_t n) { return Rng(n).next(); }

  // Page i from page_seed(first_seed + i); the descriptor itself is malloc'd (heap memory).
  static SeededHeap* make(uint64_t first_seed) {
    auto* h = static_cast<SeededHeap*>(malloc(sizeof(SeededHeap)));
    REQUIRE(h != nullptr, "malloc failed");
    h->pages = static_cast<char*>(aligned_alloc(kPage, N * kPage));
    REQUIRE(h->pages != nullptr, "aligned_alloc of %zu pages failed", N);
    for (size_t i = 0; i < N; ++i) h->write(i, page_seed(first_seed + i));
    return h;
  }
  char* page(size_t i) const { return pages + i * kPage; }
  void write(size_t i, uint64_t s) {
    seed[i] = s;
    zero[i] = false;
    fill_text(page(i), kPage, s);
  }
  bool page_ok(size_t i, const char* what) const {
    static thread_local char want[kPage];
    if (zero[i]) memset(want, 0, kPage);
    else fill_text(want, kPage, seed[i]);
    const char* p = page(i);
    if (memcmp(p, want, kPage) == 0) return true;
    report_mismatch(what, p, p, want, kPage);
    return false;
  }
  // Pages that read wrong (the first three reported in full).
  size_t bad_pages(const char* what) const {
    size_t bad = 0;
    for (size_t i = 0; i < N; ++i)
      if (!page_ok(i, bad < 3 ? what : "(not shown)")) ++bad;
    return bad;
  }
  // Waits until at most 2% of the pages are present (60 s at most); the test fails otherwise.
  void wait_all_evicted(const char* when) const {
    long present = ct::wait_evicted(pages, N * kPage, N / 50, 60);
    REQUIRE(present >= 0 && present <= static_cast<long>(N / 50),
            "%s: pages not evicted within 60 s (%ld of %zu present)", when, present, N);
  }
  // Reads and checks pages at random on a thread of its own for `ms` milliseconds, so that
  // faults race whatever the engine does to the same pages meanwhile; CHECKs that none read
  // wrong and that the reads were many.
  void read_at_random_for(double ms, const char* what) const {
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> reads{0}, bad{0};
    std::thread reader([&] {
      Rng rng(77);
      while (!stop.load(std::memory_order_relaxed)) {
        if (!page_ok(rng.below(N), what)) bad.fetch_add(1);
        if (reads.fetch_add(1, std::memory_order_relaxed) % 64 == 63) sleep_ms(1);
      }
    });
    sleep_ms(ms);
    stop = true;
    reader.join();
    printf("%s: %llu random reads, %llu wrong\n", what, (unsigned long long)reads.load(), (unsigned long long)bad.load());
    CHECK(bad.load() == 0, "%s: %llu random reads saw wrong bytes", what, (unsigned long long)bad.load());
    CHECK(reads.load() > 100, "%s: the reader made only %llu reads", what, (unsigned long long)reads.load());
  }
};

}  // namespace ct
