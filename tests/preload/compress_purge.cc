// Invariant 2, no stale resurrection: memory the application or jemalloc purged never gets
// its old contents back, whether its pages were compressed, same-filled or being evicted.
//  (a) the application's MADV_DONTNEED on a sub-range of an evicted 8 MiB block: that range
//      reads zero, the rest of the block its old contents (faulted back);
//  (b) jemalloc's purges: a block is filled, evicted and freed, jemalloc purges it (at once
//      for its huge arena, by mallctl arena.<all>.purge for the others) and calloc of the
//      same size, which jemalloc serves from the purged extent without zeroing it, must read
//      all zero;
//  (c) after the purge the memory is refilled, evicted and faulted back: new data, not old;
//  (d) MADV_DONTNEED while the reclaimer is evicting the same pages (no waiting for the
//      eviction to finish), repeated for a few seconds by two threads: every page must read
//      zero after the madvise returned, never the data written before it.
// Run with TMC_COLD_AGE=0 so the reclaimer evicts as fast as it can.
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <atomic>

#include "compress_test.h"

namespace {

using ct::kPage;

constexpr double kWaitS = 15;  // longest wait for an eviction

using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);

uint64_t page_seed(uint64_t base, size_t page) { return base * 1000003 + page; }

void fill_pages(char* p, size_t pages, uint64_t seed) {
  for (size_t i = 0; i < pages; ++i) ct::fill_text(p + i * kPage, kPage, page_seed(seed, i));
}

// Returns the number of pages of p that do not hold fill_pages(seed); reports the first few.
size_t verify_pages(const char* what, const char* p, size_t pages, uint64_t seed, size_t* reported) {
  static thread_local char want[kPage];
  size_t bad = 0;
  for (size_t i = 0; i < pages; ++i) {
    ct::fill_text(want, kPage, page_seed(seed, i));
    if (memcmp(p + i * kPage, want, kPage) != 0) {
      if ((*reported)++ < 10) ct::report_mismatch(what, p + i * kPage, p + i * kPage, want, kPage);
      ++bad;
    }
  }
  return bad;
}

// Pages of [p, p+pages) that are not all zero; says whether they hold old data (seed).
size_t verify_zero(const char* what, const char* p, size_t pages, uint64_t old_seed, size_t* reported) {
  static thread_local char old[kPage];
  size_t bad = 0;
  for (size_t i = 0; i < pages; ++i) {
    if (ct::all_zero(p + i * kPage, kPage)) continue;
    ++bad;
    if ((*reported)++ < 10) {
      ct::fill_text(old, kPage, page_seed(old_seed, i));
      bool stale = memcmp(p + i * kPage, old, kPage) == 0;
      fprintf(stderr, "NOT ZERO %s: page %zu (%p) after the purge reads %s\n", what, i,
              static_cast<const void*>(p + i * kPage), stale ? "its OLD contents (stale resurrection)" : "non-zero bytes");
    }
  }
  return bad;
}

char* alloc_pages(size_t pages) {
  void* p = nullptr;
  REQUIRE(posix_memalign(&p, kPage, pages * kPage) == 0 && p, "posix_memalign of %zu pages failed", pages);
  return static_cast<char*>(p);
}

// (a) and (c) on one block.
void app_madvise() {
  tmc_test_step("(a) MADV_DONTNEED on part of an evicted 8 MiB block reads zero, the rest is intact");
  constexpr size_t kPages = 2048, kFrom = 100, kCount = 300;
  char* p = alloc_pages(kPages);
  fill_pages(p, kPages, 1);
  long present = ct::wait_evicted(p, kPages * kPage, kPages / 10, kWaitS);
  REQUIRE(present >= 0 && present <= static_cast<long>(kPages / 10),
          "the block was not evicted within %.0f s (%ld of %zu pages still present)", kWaitS, present, kPages);
  tmc_stats before = ct::stats();
  REQUIRE(madvise(p + kFrom * kPage, kCount * kPage, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
  size_t reported = 0, not_zero = 0;
  for (size_t i = kFrom; i < kFrom + kCount; ++i) {
    if (ct::all_zero(p + i * kPage, kPage)) continue;
    ++not_zero;
    char old[kPage];
    ct::fill_text(old, kPage, page_seed(1, i));
    if (reported++ < 10)
      fprintf(stderr, "NOT ZERO (a): page %zu after MADV_DONTNEED reads %s\n", i,
              memcmp(old, p + i * kPage, kPage) == 0 ? "its OLD contents" : "non-zero bytes");
  }
  size_t bad_before = verify_pages("(a) pages before the purged range", p, kFrom, 1, &reported);
  size_t bad_after = 0;
  {
    char want[kPage];
    for (size_t i = kFrom + kCount; i < kPages; ++i) {
      ct::fill_text(want, kPage, page_seed(1, i));
      if (memcmp(p + i * kPage, want, kPage) != 0) {
        if (reported++ < 10) ct::report_mismatch("(a) pages after the purged range", p + i * kPage, p + i * kPage, want, kPage);
        ++bad_after;
      }
    }
  }
  tmc_stats after = ct::stats();
  REQUIRE(after.faults > before.faults, "reading the evicted block served no faults");
  printf("(a) %zu pages evicted before the madvise; %llu faults served reading back\n", kPages - present,
         (unsigned long long)(after.faults - before.faults));
  CHECK(not_zero == 0, "%zu of %zu purged pages do not read zero", not_zero, kCount);
  CHECK(bad_before + bad_after == 0, "%zu pages outside the purged range changed", bad_before + bad_after);

  tmc_test_step("(c) refill the purged range, evict again, fault back: the new data");
  fill_pages(p + kFrom * kPage, kCount, 2);
  present = ct::wait_evicted(p, kPages * kPage, kPages / 10, kWaitS);
  REQUIRE(present >= 0 && present <= static_cast<long>(kPages / 10), "the refilled block was not evicted again (%ld present)", present);
  before = ct::stats();
  reported = 0;
  size_t bad = verify_pages("(c) refilled range", p + kFrom * kPage, kCount, 2, &reported);
  after = ct::stats();
  REQUIRE(after.faults > before.faults, "reading the re-evicted range served no faults");
  CHECK(bad == 0, "%zu of %zu refilled pages do not hold the new data", bad, kCount);
  free(p);
}

// (b) and (c) for one size: rounds of fill, evict, free, purge, calloc.
void purge_rounds(Mallctl mallctl, size_t bytes, bool huge, int rounds) {
  char title[160];
  snprintf(title, sizeof(title), "(b) %zu KiB blocks (%s): evicted, freed, purged; calloc reads zero; refilled, evicted: new data",
           bytes >> 10, huge ? "huge arena, purged at once" : "mallctl arena.<all>.purge");
  tmc_test_step(title);
  int same_address = 0, evicted_rounds = 0;
  size_t not_zero = 0, bad_new = 0, reported = 0;
  uint64_t faults = 0;
  for (int r = 0; r < rounds; ++r) {
    uint64_t seed = 100 + static_cast<uint64_t>(r) * 2;
    char* p = static_cast<char*>(malloc(bytes));
    REQUIRE(p != nullptr, "malloc(%zu)", bytes);
    // jemalloc may place a large block a few cache lines into its first page.
    char* pa = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(p) + kPage - 1) & ~(kPage - 1));
    size_t full = (bytes - static_cast<size_t>(pa - p)) / kPage;
    memset(p, 0x5a, static_cast<size_t>(pa - p));
    fill_pages(pa, full, seed);
    long present = ct::wait_evicted(pa, full * kPage, static_cast<long>(full / 10), kWaitS);
    REQUIRE(present >= 0 && present <= static_cast<long>(full / 10), "round %d: block not evicted (%ld of %zu present)", r, present, full);
    ++evicted_rounds;
    free(p);
    if (!huge) {
      REQUIRE(mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0) == 0, "mallctl arena.4096.purge failed");
    }
    char* q = static_cast<char*>(calloc(1, bytes));
    REQUIRE(q != nullptr, "calloc(%zu)", bytes);
    // The same pages again (jemalloc's offset into the first page may differ)?
    char* qa = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(q) + kPage - 1) & ~(kPage - 1));
    bool same = qa == pa;
    same_address += same;
    tmc_stats before = ct::stats();
    if (!ct::all_zero(q, static_cast<size_t>(qa - q))) ++not_zero;
    if (same) {
      not_zero += verify_zero("(b) calloc after purge", qa, full, seed, &reported);
    } else {
      not_zero += ct::all_zero(qa, bytes - static_cast<size_t>(qa - q)) ? 0 : 1;
    }
    // (c) new data over the purged memory, evicted, faulted back.
    size_t qfull = (bytes - static_cast<size_t>(qa - q)) / kPage;
    fill_pages(qa, qfull, seed + 1);
    present = ct::wait_evicted(qa, qfull * kPage, static_cast<long>(qfull / 10), kWaitS);
    REQUIRE(present >= 0 && present <= static_cast<long>(qfull / 10), "round %d: refilled block not evicted (%ld present)", r, present);
    bad_new += verify_pages("(c) refilled after purge", qa, qfull, seed + 1, &reported);
    tmc_stats after = ct::stats();
    faults += after.faults - before.faults;
    free(q);
    if (!huge) mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
  }
  printf("(b) %d rounds, %d evicted before free, %d callocs reused the purged block's address, %llu faults\n", rounds,
         evicted_rounds, same_address, (unsigned long long)faults);
  REQUIRE(faults > 0, "no faults served reading evicted blocks back");
  // Without reuse calloc never read purged memory: the test would prove nothing.
  REQUIRE(same_address > 0, "calloc never returned the purged block's address; the check is vacuous");
  CHECK(not_zero == 0, "%zu calloc'd pages after a purge do not read zero", not_zero);
  CHECK(bad_new == 0, "%zu refilled pages do not hold the new data", bad_new);
}

// (d) The purge races the reclaimer.
std::atomic<bool> g_stop{false};

struct HammerResult {
  uint64_t rounds = 0, pages_checked = 0, evicted_at_madvise = 0, not_zero = 0, stale = 0;
};

void* hammer(void* arg) {
  auto* res = static_cast<HammerResult*>(arg);
  constexpr size_t kPages = 512;  // one batch of the reclaimer is 64 pages: several batches
  char* p = alloc_pages(kPages);
  ct::Rng rng(reinterpret_cast<uintptr_t>(arg));
  char old[kPage];
  uint64_t gen = reinterpret_cast<uintptr_t>(arg) & 0xffff;
  while (!g_stop.load(std::memory_order_relaxed)) {
    ++gen;
    fill_pages(p, kPages, gen);
    uint64_t r = rng.below(10);
    uint64_t mode = r < 6 ? 0 : (r < 8 ? 1 : 2);
    if (mode == 0) {
      // As soon as the reclaimer has begun to evict this block: it is mid-way through it.
      double limit = ct::now_s() + 0.1;
      while (ct::present_pages(p, kPages * kPage) == static_cast<long>(kPages) && ct::now_s() < limit) {
      }
    } else {
      // Anywhere in the reclaimer's cycle (it sleeps 20 ms when it finds nothing to do).
      ct::sleep_ms(static_cast<double>(rng.below(25000)) / 1000.0);
    }
    long present = ct::present_pages(p, kPages * kPage);
    if (present >= 0) res->evicted_at_madvise += kPages - static_cast<uint64_t>(present);
    if (mode == 2) {  // page by page: one REMOVE event each
      for (size_t i = 0; i < 64; ++i) REQUIRE(madvise(p + i * kPage, kPage, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
      REQUIRE(madvise(p + 64 * kPage, (kPages - 64) * kPage, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
    } else {
      REQUIRE(madvise(p, kPages * kPage, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
    }
    for (size_t i = 0; i < kPages; ++i) {
      ++res->pages_checked;
      if (ct::all_zero(p + i * kPage, kPage)) continue;
      ++res->not_zero;
      ct::fill_text(old, kPage, page_seed(gen, i));
      bool stale = memcmp(old, p + i * kPage, kPage) == 0;
      res->stale += stale;
      if (res->not_zero <= 10)
        fprintf(stderr, "NOT ZERO (d): round %llu (mode %llu, %ld pages present at the madvise) page %zu (%p) reads %s\n",
                (unsigned long long)res->rounds, (unsigned long long)mode, present, i, static_cast<void*>(p + i * kPage),
                stale ? "the data written before the madvise (stale resurrection)" : "non-zero bytes");
    }
    ++res->rounds;
  }
  free(p);
  return nullptr;
}

void madvise_races_eviction(double seconds) {
  tmc_test_step("(d) MADV_DONTNEED racing the reclaimer's eviction of the same pages: always zero afterwards");
  tmc_stats before = ct::stats();
  HammerResult res[2];
  pthread_t t[2];
  for (int i = 0; i < 2; ++i) REQUIRE(pthread_create(&t[i], nullptr, hammer, &res[i]) == 0, "pthread_create");
  ct::sleep_ms(seconds * 1000);
  g_stop = true;
  HammerResult total;
  for (int i = 0; i < 2; ++i) {
    pthread_join(t[i], nullptr);
    total.rounds += res[i].rounds;
    total.pages_checked += res[i].pages_checked;
    total.evicted_at_madvise += res[i].evicted_at_madvise;
    total.not_zero += res[i].not_zero;
    total.stale += res[i].stale;
  }
  tmc_stats after = ct::stats();
  printf("(d) %llu rounds, %llu pages purged and checked, %llu of them already evicted at the madvise, %llu evictions\n",
         (unsigned long long)total.rounds, (unsigned long long)total.pages_checked,
         (unsigned long long)total.evicted_at_madvise, (unsigned long long)(after.evictions - before.evictions));
  REQUIRE(after.evictions > before.evictions, "nothing was evicted while the purges ran");
  REQUIRE(total.evicted_at_madvise > 0, "no purged page was evicted at the time of its madvise");
  CHECK(total.not_zero == 0, "%llu pages did not read zero after MADV_DONTNEED (%llu held their old contents)",
        (unsigned long long)total.not_zero, (unsigned long long)total.stale);
}

}  // namespace

int main() {
  ct::require_engine_environment("compress_purge");
  auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  REQUIRE(mallctl != nullptr, "jemalloc's mallctl is not visible (dlsym)");
  tmc_stats start = ct::stats();

  app_madvise();
  purge_rounds(mallctl, 16u << 20, true, 4);
  purge_rounds(mallctl, 1u << 20, false, 6);
  purge_rounds(mallctl, 192u << 10, false, 6);
  double seconds = getenv("PURGE_RACE_SECONDS") ? atof(getenv("PURGE_RACE_SECONDS")) : 6.0;
  madvise_races_eviction(seconds);

  tmc_stats end = ct::stats();
  ct::print_stats("compress_purge", end);
  REQUIRE(end.evictions > start.evictions && end.faults > start.faults, "no evictions or faults at all");
  return tmc_test_finish("compress_purge");
}
