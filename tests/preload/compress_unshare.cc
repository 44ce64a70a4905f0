// The reclaimer's one write to application memory races a purge of the same page.
//
// After a forked child has gone, its parent's pages stay marked copy-on-write and UFFDIO_MOVE
// refuses them; the reclaimer then writes each in place (Reclaimer::unshare: an atomic add of
// zero) so that a later pass can take it. An application that purges such a page with a raw
// madvise(MADV_DONTNEED) just then empties it under a word that still says Resident, and the
// reclaimer's write faults. That fault must be served as the purge it is: the page reads
// zero, no other page changes, nothing hangs, and it is counted as unshare_purged, never as a
// self fault (which would mean a libtmc thread touched memory it should not have).
//
// Run with TMC_COLD_AGE=0 TMC_TEST_UNSHARE_DELAY_US=N: the reclaimer then waits N us between
// its look at the page word and its write, so the race happens often instead of once in a
// long while (the CI's torture run met it once).
#include <sys/wait.h>

#include "compress_test.h"

namespace {

constexpr size_t kPages = 256;  // 1 MiB: a purge hits the page being unshared often
using Heap = ct::SeededHeap<kPages>;

// A raw purge: the libc madvise is libtmc's, which waits for the reclaimer's batch to end
// (reclaim_lock_) and so could never race it.
void raw_dontneed(Heap* h, size_t i) {
  REQUIRE(syscall(SYS_madvise, h->page(i), ct::kPage, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
  h->zero[i] = true;
}

// Every page written again (present, and this process's alone), then a child that exits at
// once: the pages are left marked copy-on-write, so the reclaimer has to unshare each.
void rewrite_and_fork(Heap* h, uint64_t round) {
  for (size_t i = 0; i < kPages; ++i) h->write(i, Heap::page_seed(round * kPages + i));
  pid_t pid = fork();
  REQUIRE(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) _exit(0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed");
}

}  // namespace

int main() {
  ct::require_engine_environment("compress_unshare");
  const char* delay = getenv("TMC_TEST_UNSHARE_DELAY_US");
  REQUIRE(delay != nullptr && atoi(delay) > 0, "run with TMC_TEST_UNSHARE_DELAY_US set (see the top of this file)");
  Heap* h = Heap::make(1);
  h->wait_all_evicted("first eviction");

  tmc_test_step("raw purges race the reclaimer's writes that unshare pages a gone child shared");
  ct::Rng rng(5);
  const double end = ct::now_s() + 25;
  uint64_t rounds = 0, purges = 0;
  tmc_stats s = ct::stats();
  while (ct::now_s() < end && s.unshare_purged < 20) {
    rewrite_and_fork(h, ++rounds);
    // Purges at random while the reclaimer works through the block, a page now and then
    // written again (it is then exclusive: evicted with no unshare).
    const double round_end = ct::now_s() + 0.4;
    while (ct::now_s() < round_end) {
      const size_t i = rng.below(kPages);
      if (h->zero[i] && rng.below(2) == 0) h->write(i, Heap::page_seed(rng.next()));
      else raw_dontneed(h, i), ++purges;
      ct::sleep_ms(0.02);
    }
    CHECK(h->bad_pages("after a round") == 0, "round %llu: pages read wrong", (unsigned long long)rounds);
    s = ct::stats();
  }
  ct::print_stats("at the end", s);
  printf("compress_unshare: %llu rounds, %llu raw purges, unshared_pages=%llu unshare_purged=%llu self_faults=%llu\n",
         (unsigned long long)rounds, (unsigned long long)purges, (unsigned long long)s.unshared_pages,
         (unsigned long long)s.unshare_purged, (unsigned long long)s.self_faults);
  REQUIRE(s.unshared_pages > 0, "the reclaimer unshared no page: the test did not make the situation it tests");
  REQUIRE(s.unshare_purged > 0, "no unshare met a purged page in %llu rounds: the race was not made",
          (unsigned long long)rounds);
  CHECK(s.self_faults == 0, "libtmc's own threads took %llu faults on managed memory", (unsigned long long)s.self_faults);

  tmc_test_step("afterwards every page is evicted and reads back right");
  // A purged page read since maps the shared zero page, which stays (nothing to evict).
  for (size_t i = 0; i < kPages; ++i)
    if (h->zero[i]) h->write(i, Heap::page_seed(rng.next()));
  h->wait_all_evicted("after the races");
  CHECK(h->bad_pages("at the end") == 0, "pages read wrong at the end");
  return tmc_test_finish("compress_unshare");
}
