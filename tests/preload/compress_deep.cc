// Recompression of long-idle blobs (TMC_DEEP_AGE, reclaim/deep.h): blobs of pages that
// stay compressed are made again with zstd at TMC_DEEP_LEVEL and a deep dictionary, and the
// old blob goes. Whatever the program does to such a page (reads it while it is being
// recompressed, writes it, purges it, forks), it must come back exactly as last written.
// Run with TMC_COLD_AGE=0 (an epoch is a reclaimer pass) and TMC_DEEP_AGE=1s, and a mode:
//   recompress  most pages get deep blobs that are smaller; every page reads back equal,
//               also while a thread reads pages at random during recompression (a fault
//               racing the take: deep_given_back)
//   writes      once recompression has caught up (deep_sweeps, deep_sweep_candidates, and
//               the deep dictionary's compression tables given back), pages written after
//               coming back from deep blobs go out and are recompressed again (the tables
//               rebuilt), three rounds, every page checked
//   purge       pages with deep blobs purged with MADV_DONTNEED read zero, the rest equal
//   fork        a child reads its copy of pages with deep blobs, writes some, checks; the
//               parent checks its own
//   off         with TMC_DEEP_AGE=0: nothing is recompressed and no deep dictionary made
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <atomic>

#include "compress_test.h"

namespace {

constexpr size_t kPages = 4096;  // 16 MiB
constexpr uint64_t kSeed = 9100;

using Heap = ct::SeededHeap<kPages>;

Heap* make_heap() { return Heap::make(kSeed); }

void print_deep(const char* what, const tmc_stats& s) {
  printf("%s: compressed_pages=%llu compr_bytes=%llu deep_pages=%llu deep_recompressed=%llu deep_saved_bytes=%llu "
         "deep_given_back=%llu deep_dict_bytes=%llu cpu_ns_deep=%llu deep_sweeps=%llu deep_sweep_candidates=%llu "
         "faults=%llu evictions=%llu verify_failures=%llu\n",
         what, (unsigned long long)s.compressed_pages, (unsigned long long)s.compr_bytes,
         (unsigned long long)s.deep_pages, (unsigned long long)s.deep_recompressed,
         (unsigned long long)s.deep_saved_bytes, (unsigned long long)s.deep_given_back,
         (unsigned long long)s.deep_dict_bytes, (unsigned long long)s.cpu_ns_deep, (unsigned long long)s.deep_sweeps,
         (unsigned long long)s.deep_sweep_candidates, (unsigned long long)s.faults,
         (unsigned long long)s.evictions, (unsigned long long)s.verify_failures);
  fflush(stdout);
}

// Waits until at least `share` percent of the heap's pages hold deep blobs.
tmc_stats wait_deep(uint64_t share, const char* when) {
  const uint64_t want = kPages * share / 100;
  bool ok = ct::wait_stats([&](const tmc_stats& st) { return st.deep_pages >= want; }, 90);
  tmc_stats s = ct::stats();
  print_deep(when, s);
  REQUIRE(ok, "%s: only %llu of %zu pages recompressed within 90 s", when, (unsigned long long)s.deep_pages, kPages);
  return s;
}

// A heap whose pages were evicted and mostly recompressed.
Heap* deep_heap(tmc_stats* out) {
  Heap* h = make_heap();
  h->wait_all_evicted("eviction");
  tmc_stats before = ct::stats();
  print_deep("evicted", before);
  *out = wait_deep(90, "recompressed");
  REQUIRE(out->deep_dict_bytes > 0, "no deep dictionary reported");
  return h;
}

int recompress() {
  tmc_test_step("idle blobs are recompressed smaller, and pages read back equal, also during recompression");
  Heap* h = make_heap();
  h->wait_all_evicted("eviction");
  tmc_stats evicted = ct::stats();
  print_deep("evicted", evicted);
  // Readers from the first recompressed page on: pages come back (and, with no cold age,
  // go out again at once and are recompressed again a pass later).
  ct::wait_stats([](const tmc_stats& st) { return st.deep_recompressed > 0; }, 90);
  h->read_at_random_for(3000, "random read during recompression");
  h->wait_all_evicted("eviction after the reads");
  tmc_stats s = wait_deep(90, "recompressed");
  CHECK(s.deep_dict_bytes > 0, "no deep dictionary reported");
  CHECK(s.deep_saved_bytes > 0, "recompression saved nothing");
  // The pool holds deep blobs now: smaller than the first blobs of the same pages.
  CHECK(s.compr_bytes < evicted.compr_bytes, "pool bytes %llu not below the %llu before recompression",
        (unsigned long long)s.compr_bytes, (unsigned long long)evicted.compr_bytes);
  CHECK(s.cpu_ns_deep > 0, "no CPU reported for recompression");
  size_t bad = h->bad_pages("after recompression");
  CHECK(bad == 0, "%zu of %zu pages came back wrong", bad, kPages);
  tmc_stats end = ct::stats();
  print_deep("read back", end);
  CHECK(end.verify_failures == 0, "%llu verify failures", (unsigned long long)end.verify_failures);
  return tmc_test_finish("compress_deep recompress");
}

int writes() {
  tmc_test_step("pages written after coming back from deep blobs go out and are recompressed again");
  tmc_stats s;
  Heap* h = deep_heap(&s);
  // Nothing touches the heap now: a later sweep finds (almost) nothing left to recompress,
  // and the dictionary's compression tables are given back until the next bulk.
  const uint64_t sweeps0 = s.deep_sweeps, dict_full = s.deep_dict_bytes;
  bool caught_up = ct::wait_stats([&](const tmc_stats& st) {
    return st.deep_sweeps >= sweeps0 + 2 && st.deep_sweep_candidates <= kPages / 20 &&
           st.deep_dict_bytes * 2 < dict_full;
  }, 60);
  s = ct::stats();
  print_deep("caught up", s);
  CHECK(caught_up, "deep_sweeps %llu, deep_sweep_candidates %llu, deep_dict_bytes %llu of %llu: recompression did not "
        "report catching up, or kept its compression tables", (unsigned long long)s.deep_sweeps,
        (unsigned long long)s.deep_sweep_candidates, (unsigned long long)s.deep_dict_bytes,
        (unsigned long long)dict_full);
  for (int round = 0; round < 3; ++round) {
    const uint64_t recompressed0 = ct::stats().deep_recompressed;
    // A third of the pages get new contents (a fault brings each back from its deep blob
    // first, to be written).
    for (size_t i = static_cast<size_t>(round); i < kPages; i += 3) {
      h->write(i, Heap::page_seed(kSeed + 1000000 * (round + 1) + i));
    }
    size_t bad = h->bad_pages("just written");
    CHECK(bad == 0, "round %d: %zu pages wrong right after writing", round, bad);
    h->wait_all_evicted("eviction after writes");
    ct::wait_stats([&](const tmc_stats& st) { return st.deep_recompressed >= recompressed0 + kPages / 3 * 9 / 10; }, 90);
    s = ct::stats();
    print_deep("recompressed again", s);
    CHECK(s.deep_recompressed >= recompressed0 + kPages / 3 * 9 / 10, "round %d: only %llu pages recompressed again",
          round, (unsigned long long)(s.deep_recompressed - recompressed0));
    bad = h->bad_pages("after recompressing written pages");
    CHECK(bad == 0, "round %d: %zu of %zu pages came back wrong", round, bad, kPages);
  }
  CHECK(ct::stats().verify_failures == 0, "verify failures");
  return tmc_test_finish("compress_deep writes");
}

int purge() {
  tmc_test_step("pages with deep blobs purged with MADV_DONTNEED read zero; their blobs go");
  tmc_stats s;
  Heap* h = deep_heap(&s);
  const uint64_t deep0 = s.deep_pages;
  // Every other run of 8 pages.
  size_t purged = 0;
  for (size_t i = 0; i + 8 <= kPages; i += 16) {
    REQUIRE(madvise(h->page(i), 8 * ct::kPage, MADV_DONTNEED) == 0, "madvise failed: %s", strerror(errno));
    for (size_t k = 0; k < 8; ++k) h->zero[i + k] = true;
    purged += 8;
  }
  tmc_stats after = ct::stats();
  print_deep("purged", after);
  // Recompression may still be going on (deep0 was read at 90%): what must hold is that no
  // purged page still counts, whatever was recompressed since.
  CHECK(after.deep_pages <= kPages - purged * 9 / 10, "deep_pages %llu (%llu before the purge): the %zu purged pages "
        "did not leave it", (unsigned long long)after.deep_pages, (unsigned long long)deep0, purged);
  size_t bad = h->bad_pages("after purge");
  CHECK(bad == 0, "%zu of %zu pages wrong after purging %zu", bad, kPages, purged);
  CHECK(ct::stats().verify_failures == 0, "verify failures");
  return tmc_test_finish("compress_deep purge");
}

int fork_test() {
  tmc_test_step("a forked child reads pages with deep blobs, writes some, and both sides stay exact");
  tmc_stats s;
  Heap* h = deep_heap(&s);
  fflush(stdout);
  pid_t pid = fork();
  REQUIRE(pid >= 0, "fork failed: %s", strerror(errno));
  if (pid == 0) {
    alarm(120);
    size_t bad = h->bad_pages("child, inherited pages");
    for (size_t i = 0; i < kPages; i += 2) {
      h->write(i, Heap::page_seed(kSeed + 5000000 + i));
    }
    bad += h->bad_pages("child, after writing");
    printf("child: %zu bad pages\n", bad);
    fflush(stdout);
    _exit(bad == 0 ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid failed");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status %d)", status);
  size_t bad = h->bad_pages("parent, after the child");
  CHECK(bad == 0, "parent: %zu of %zu pages wrong", bad, kPages);
  // The parent's pages go out and are recompressed again after the fork.
  h->wait_all_evicted("eviction after fork");
  bad = h->bad_pages("parent, evicted again");
  CHECK(bad == 0, "parent: %zu of %zu pages wrong after evicting again", bad, kPages);
  CHECK(ct::stats().verify_failures == 0, "verify failures");
  return tmc_test_finish("compress_deep fork");
}

int off() {
  tmc_test_step("with TMC_DEEP_AGE=0 nothing is recompressed");
  Heap* h = make_heap();
  h->wait_all_evicted("eviction");
  ct::sleep_ms(3000);
  tmc_stats s = ct::stats();
  print_deep("evicted", s);
  CHECK(s.deep_recompressed == 0 && s.deep_pages == 0 && s.deep_dict_bytes == 0 && s.cpu_ns_deep == 0,
        "recompression ran with TMC_DEEP_AGE=0");
  size_t bad = h->bad_pages("read back");
  CHECK(bad == 0, "%zu pages wrong", bad);
  return tmc_test_finish("compress_deep off");
}

}  // namespace

int main(int argc, char** argv) {
  ct::require_engine_environment("compress_deep");
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "recompress") == 0) return recompress();
  if (strcmp(mode, "writes") == 0) return writes();
  if (strcmp(mode, "purge") == 0) return purge();
  if (strcmp(mode, "fork") == 0) return fork_test();
  if (strcmp(mode, "off") == 0) return off();
  fprintf(stderr, "usage: compress_deep recompress|writes|purge|fork|off\n");
  return 2;
}
