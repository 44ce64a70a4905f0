// Clean-page retention (TMC_RETAIN, heap/page_state.h "Retained blobs"): a page a fault
// brings back keeps its blob, and when it is evicted again unchanged the blob is reused
// instead of compressing the page again. Whatever the program did to the page in between
// (one byte written, the whole page written, a purge, a fork), it must come back exactly as
// last written. Run with TMC_COLD_AGE=1s (pages stay in place for a second after each
// step, long enough to check them) and one mode:
//   reuse    pages read back and evicted again reuse their blobs
//   writes   pages written after coming back (one byte, or all of it) are never given
//            their old blob: three rounds of read, write, evict, verify
//   purge    retained pages purged with MADV_DONTNEED read zero and drop their blobs
//   fork     a child and its parent each write, evict and check pages that kept blobs
//   cap      with TMC_RETAIN=64K: no more than that is kept
//   off      with TMC_RETAIN=0: nothing is kept
#include <sys/mman.h>
#include <sys/wait.h>

#include "compress_test.h"

namespace {

constexpr size_t kPages = 2048;
constexpr uint64_t kSeed = 7000, kWriteSeed = 800000;

struct Heap {
  char* pages;
  uint64_t seed[kPages];  // each page holds ct::fill_text(seed)...
  bool flipped[kPages];   // ...with its last byte's low bit flipped
  bool zero[kPages];      // ...or zeros (purged)
};

Heap* make_heap() {
  auto* h = static_cast<Heap*>(malloc(sizeof(Heap)));
  REQUIRE(h != nullptr, "malloc failed");
  h->pages = static_cast<char*>(aligned_alloc(ct::kPage, kPages * ct::kPage));
  REQUIRE(h->pages != nullptr, "aligned_alloc of %zu pages failed", kPages);
  for (size_t i = 0; i < kPages; ++i) {
    h->seed[i] = kSeed + i;
    h->flipped[i] = false;
    h->zero[i] = false;
    ct::fill_text(h->pages + i * ct::kPage, ct::kPage, h->seed[i]);
  }
  return h;
}

char* page(Heap* h, size_t i) { return h->pages + i * ct::kPage; }

void expected(const Heap* h, size_t i, char* out) {
  if (h->zero[i]) {
    memset(out, 0, ct::kPage);
    return;
  }
  ct::fill_text(out, ct::kPage, h->seed[i]);
  if (h->flipped[i]) out[ct::kPage - 1] ^= 1;
}

size_t bad_pages(const char* what, const Heap* h) {
  static char want[ct::kPage];
  size_t bad = 0;
  for (size_t i = 0; i < kPages; ++i) {
    expected(h, i, want);
    const char* p = h->pages + i * ct::kPage;
    if (memcmp(p, want, ct::kPage) == 0) continue;
    if (++bad <= 3) ct::report_mismatch(what, p, p, want, ct::kPage);
  }
  return bad;
}

// Reads one byte of every page: each faults back (keeping its blob if it may).
uint64_t read_all(const Heap* h) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kPages; ++i) sum += static_cast<unsigned char>(*(volatile const char*)(h->pages + i * ct::kPage + 17));
  return sum;
}

void wait_all_evicted(const Heap* h, const char* when) {
  long present = ct::wait_evicted(h->pages, kPages * ct::kPage, kPages / 50, 60);
  REQUIRE(present >= 0 && present <= static_cast<long>(kPages / 50),
          "%s: pages not evicted within 60 s (%ld of %zu present)", when, present, kPages);
}

// Waits until the stats show at least `n` reuses (the last batch may still be committing).
tmc_stats wait_reused(uint64_t n) {
  ct::wait_stats([&](const tmc_stats& st) { return st.retained_reused >= n; }, 10);
  return ct::stats();
}

void print_retain(const char* what, const tmc_stats& s) {
  printf("%s: compressed_pages=%llu compr_bytes=%llu retained_pages=%llu retained_bytes=%llu retained_reused=%llu "
         "retained_changed=%llu faults=%llu evictions=%llu verify_failures=%llu\n",
         what, (unsigned long long)s.compressed_pages, (unsigned long long)s.compr_bytes,
         (unsigned long long)s.retained_pages, (unsigned long long)s.retained_bytes,
         (unsigned long long)s.retained_reused, (unsigned long long)s.retained_changed,
         (unsigned long long)s.faults, (unsigned long long)s.evictions, (unsigned long long)s.verify_failures);
  fflush(stdout);
}

// Reuses counted before the last evict_and_read_back's reads: a page read back early may be
// evicted again (reusing its kept blob) before the reads end, on a loaded machine where
// reading the heap takes longer than the cold age, so "kept a blob" is retained_pages plus
// the reuses since then.
uint64_t g_reused_before_read = 0;

uint64_t kept_since_read(const tmc_stats& s) { return s.retained_pages + (s.retained_reused - g_reused_before_read); }

// Evicts the heap, reads it all back (by faults and, the reads being sequential, by
// fault-around: both keep blobs); returns the stats then.
tmc_stats evict_and_read_back(Heap* h, const char* when) {
  wait_all_evicted(h, when);
  tmc_stats before = ct::stats();
  g_reused_before_read = before.retained_reused;
  tmc_test_escape(reinterpret_cast<void*>(read_all(h)));
  tmc_stats s = ct::stats();
  REQUIRE(s.faults > before.faults, "%s: reading the heap made no fault", when);
  // Counted by the engine, not by what is present now: see g_reused_before_read.
  const uint64_t brought = (s.faults - before.faults) + (s.fault_around_pages - before.fault_around_pages);
  REQUIRE(brought >= kPages * 9 / 10, "%s: reading the heap brought only %llu of %zu pages back", when,
          (unsigned long long)brought, kPages);
  return s;
}

// A heap evicted and read back, at least half of whose pages kept their blobs.
Heap* heap_with_kept_blobs(tmc_stats* s) {
  Heap* h = make_heap();
  *s = evict_and_read_back(h, "eviction");
  print_retain("after reading back", *s);
  REQUIRE(kept_since_read(*s) >= kPages / 2, "too few pages kept their blob to test (%llu)",
          (unsigned long long)kept_since_read(*s));
  return h;
}

// Flips the low bit of page i's last byte (the smallest change the comparison must see).
void flip(Heap* h, size_t i) {
  page(h, i)[ct::kPage - 1] ^= 1;
  h->flipped[i] = !h->flipped[i];
}

int reuse() {
  tmc_test_step("pages read back keep their blobs");
  Heap* h = make_heap();
  tmc_stats s = evict_and_read_back(h, "first eviction");
  print_retain("after reading back", s);
  CHECK(kept_since_read(s) >= kPages * 9 / 10, "only %llu of %zu pages kept their blob",
        (unsigned long long)kept_since_read(s), kPages);
  CHECK(s.retained_bytes > 0 && s.retained_bytes < s.retained_pages * ct::kPage,
        "retained_bytes=%llu for %llu pages", (unsigned long long)s.retained_bytes,
        (unsigned long long)s.retained_pages);
  CHECK(bad_pages("read back", h) == 0, "pages read back wrong");

  tmc_test_step("evicted again unchanged: the kept blobs are reused, nothing is compressed again");
  const uint64_t reused0 = g_reused_before_read;  // pages evicted again during the reads count too
  wait_all_evicted(h, "second eviction");
  s = wait_reused(reused0 + kPages * 9 / 10);
  print_retain("after the second eviction", s);
  CHECK(s.retained_reused - reused0 >= kPages * 9 / 10, "only %llu of %zu evictions reused a blob",
        (unsigned long long)(s.retained_reused - reused0), kPages);
  CHECK(s.retained_pages <= kPages / 50 + 8, "%llu pages still count as keeping a blob after their eviction",
        (unsigned long long)s.retained_pages);
  CHECK(bad_pages("after reuse", h) == 0, "pages read back wrong after their blobs were reused");
  s = ct::stats();
  CHECK(s.verify_failures == 0, "verify_failures=%llu", (unsigned long long)s.verify_failures);
  return tmc_test_finish("compress_retain");
}

int writes() {
  Heap* h = make_heap();
  uint64_t changed_total = 0;
  for (int round = 0; round < 3; ++round) {
    char title[96];
    snprintf(title, sizeof(title), "round %d: read back, write a third of the pages, evict, verify", round + 1);
    tmc_test_step(title);
    tmc_stats s = evict_and_read_back(h, "eviction");
    const uint64_t changed0 = s.retained_changed, reused0 = s.retained_reused;
    // Every third page gets one bit of its last byte flipped (the smallest change the
    // comparison must see), every third page + 1 new contents; the rest stay as read.
    size_t written = 0;
    for (size_t i = static_cast<size_t>(round); i < kPages; i += 3) {
      flip(h, i);
      ++written;
      if (i + 1 < kPages) {
        h->seed[i + 1] = kWriteSeed + round * kPages + i;
        h->flipped[i + 1] = false;
        ct::fill_text(page(h, i + 1), ct::kPage, h->seed[i + 1]);
        ++written;
      }
    }
    wait_all_evicted(h, "eviction after the writes");
    s = ct::stats();
    print_retain("after the writes' eviction", s);
    const uint64_t changed = s.retained_changed - changed0;
    changed_total += changed;
    CHECK(changed >= written * 9 / 10, "only %llu of %zu written pages gave up their blob",
          (unsigned long long)changed, written);
    CHECK(s.retained_reused - reused0 <= kPages - written + kPages / 50,
          "%llu evictions reused a blob, more than the %zu pages left unwritten",
          (unsigned long long)(s.retained_reused - reused0), kPages - written);
    CHECK(bad_pages("after the writes", h) == 0, "round %d: pages read back wrong (a write lost to a kept blob)",
          round + 1);
  }
  tmc_stats s = ct::stats();
  CHECK(s.verify_failures == 0, "verify_failures=%llu", (unsigned long long)s.verify_failures);
  printf("retained blobs given up for changed pages over 3 rounds: %llu\n", (unsigned long long)changed_total);
  return tmc_test_finish("compress_retain");
}

int purge() {
  tmc_test_step("retained pages purged with MADV_DONTNEED read zero and give their blobs up");
  tmc_stats s;
  Heap* h = heap_with_kept_blobs(&s);
  const uint64_t changed0 = s.retained_changed;
  REQUIRE(madvise(h->pages, kPages / 2 * ct::kPage, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
  for (size_t i = 0; i < kPages / 2; ++i) h->zero[i] = true;
  // The purge returns once its event is read; the fault thread handles it right after.
  ct::wait_stats([&](const tmc_stats& st) { return st.retained_changed - changed0 >= kPages / 2 * 9 / 10; }, 10);
  s = ct::stats();
  print_retain("after the purge", s);
  CHECK(s.retained_changed - changed0 >= kPages / 2 * 9 / 10, "the purge released only %llu kept blobs",
        (unsigned long long)(s.retained_changed - changed0));
  CHECK(bad_pages("after the purge", h) == 0, "pages read back wrong after the purge");

  tmc_test_step("evicted again: purged pages stay zero, the rest exact");
  // The purged half, read as zeros, maps the shared zero page, which is never evicted.
  long present = ct::wait_evicted(page(h, kPages / 2), kPages / 2 * ct::kPage, kPages / 100, 60);
  CHECK(present >= 0 && present <= static_cast<long>(kPages / 100), "the unpurged half was not evicted (%ld present)",
        present);
  CHECK(bad_pages("after the purge's eviction", h) == 0, "pages read back wrong after the purge and an eviction");
  s = ct::stats();
  CHECK(s.verify_failures == 0, "verify_failures=%llu", (unsigned long long)s.verify_failures);
  return tmc_test_finish("compress_retain");
}

int fork_mode() {
  tmc_test_step("a forked child and its parent write, evict and check pages that kept blobs");
  tmc_stats s;
  Heap* h = heap_with_kept_blobs(&s);
  pid_t pid = fork();
  REQUIRE(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    // The child flips a bit in the odd pages, then checks everything twice: before and
    // after its own reclaimer evicted (and reused what it may).
    for (size_t i = 1; i < kPages; i += 2) flip(h, i);
    size_t bad = bad_pages("child", h);
    wait_all_evicted(h, "child's eviction");
    bad += bad_pages("child after its eviction", h);
    tmc_stats c = ct::stats();
    print_retain("child", c);
    _exit(bad == 0 && c.verify_failures == 0 ? 0 : 1);
  }
  // The parent flips the even pages meanwhile.
  for (size_t i = 0; i < kPages; i += 2) flip(h, i);
  CHECK(bad_pages("parent", h) == 0, "the parent's pages read back wrong");
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child found wrong pages (status %d)", status);
  wait_all_evicted(h, "parent's eviction after the fork");
  CHECK(bad_pages("parent after its eviction", h) == 0, "the parent's pages read back wrong after eviction");
  s = ct::stats();
  print_retain("parent after fork", s);
  CHECK(s.verify_failures == 0, "verify_failures=%llu", (unsigned long long)s.verify_failures);
  return tmc_test_finish("compress_retain");
}

int cap() {
  tmc_test_step("TMC_RETAIN=64K: no more than 64 KiB of blobs is kept");
  Heap* h = make_heap();
  tmc_stats s = evict_and_read_back(h, "eviction");
  print_retain("after reading back", s);
  CHECK(s.retained_pages > 0, "nothing was kept");
  CHECK(s.retained_bytes <= 64 * 1024, "%llu bytes kept", (unsigned long long)s.retained_bytes);
  CHECK(bad_pages("read back", h) == 0, "pages read back wrong");
  return tmc_test_finish("compress_retain");
}

int off() {
  tmc_test_step("TMC_RETAIN=0: nothing is kept");
  Heap* h = make_heap();
  tmc_stats s = evict_and_read_back(h, "eviction");
  wait_all_evicted(h, "second eviction");
  s = ct::stats();
  print_retain("after two evictions", s);
  CHECK(s.retained_pages == 0 && s.retained_bytes == 0 && s.retained_reused == 0 && s.retained_changed == 0,
        "retention ran although turned off");
  CHECK(bad_pages("read back", h) == 0, "pages read back wrong");
  return tmc_test_finish("compress_retain");
}

bool env_is(const char* name, const char* value) {
  const char* v = getenv(name);
  return v != nullptr && strcmp(v, value) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  ct::require_engine_environment("compress_retain");
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "cap") == 0) {
    REQUIRE(env_is("TMC_RETAIN", "64K"), "run with TMC_RETAIN=64K");
    return cap();
  }
  if (strcmp(mode, "off") == 0) {
    REQUIRE(env_is("TMC_RETAIN", "0"), "run with TMC_RETAIN=0");
    return off();
  }
  const char* r = getenv("TMC_RETAIN");
  REQUIRE(r != nullptr && strcmp(r, "0") != 0, "run with TMC_RETAIN set (e.g. 64M)");
  if (strcmp(mode, "reuse") == 0) return reuse();
  if (strcmp(mode, "writes") == 0) return writes();
  if (strcmp(mode, "purge") == 0) return purge();
  if (strcmp(mode, "fork") == 0) return fork_mode();
  fprintf(stderr, "usage: compress_retain reuse|writes|purge|fork|cap|off\n");
  return 2;
}
