// TMC_PROBATION (reclaim/probation.h): pages chosen for eviction wait uncompressed in the
// staging area's probation slots for TMC_PROBATION_AGE before they are compressed.
//
//   - evicted pages wait there first (probation_pages), uncompressed;
//   - a page touched meanwhile comes back from its slot, never compressed (probation_returned);
//   - a page left alone is compressed once the age has passed (probation_graduated) and
//     reads back right;
//   - a fork while pages wait there: the child reads them right, and so does the parent
//     after its reclaimer has compressed them or (incompressible pages) moved them back
//     from slots the child's copy shared; the child's own reclaimer graduates its copies.
//
// Run with TMC_COLD_AGE=0 TMC_PROBATION=4M TMC_PROBATION_AGE=2s.
#include <sys/wait.h>

#include "compress_test.h"

namespace {

constexpr size_t kPages = 512;        // 2 MiB of text: fits the 4 MiB of probation
constexpr size_t kRandomPages = 128;  // incompressible: moved back from probation, not compressed
using Heap = ct::SeededHeap<kPages>;

struct RandomBlock {
  char* p;
  uint64_t seed;
  void write(uint64_t s) {
    seed = s;
    for (size_t i = 0; i < kRandomPages; ++i) ct::fill_random(p + i * ct::kPage, ct::kPage, s + i);
  }
  size_t bad_pages() const {
    static char want[ct::kPage];
    size_t bad = 0;
    for (size_t i = 0; i < kRandomPages; ++i) {
      ct::fill_random(want, ct::kPage, seed + i);
      bad += memcmp(p + i * ct::kPage, want, ct::kPage) != 0;
    }
    return bad;
  }
};

// Waits until probation holds no page (everything compressed, moved back or returned).
bool wait_probation_drained(double timeout_s) {
  return ct::wait_stats([](const tmc_stats& s) { return s.probation_pages == 0; }, timeout_s);
}

}  // namespace

int main() {
  ct::require_engine_environment("compress_probation");
  const char* size = getenv("TMC_PROBATION");
  REQUIRE(size != nullptr && strcmp(size, "0") != 0, "run with TMC_PROBATION set (see the top of this file)");

  tmc_test_step("evicted pages wait in probation uncompressed");
  Heap* h = Heap::make(1);
  h->wait_all_evicted("first eviction");
  tmc_stats s = ct::stats();
  ct::print_stats("evicted", s);
  printf("probation_pages=%llu returned=%llu graduated=%llu\n", (unsigned long long)s.probation_pages,
         (unsigned long long)s.probation_returned, (unsigned long long)s.probation_graduated);
  REQUIRE(s.probation_pages >= kPages / 2, "only %llu pages in probation right after %zu were evicted",
          (unsigned long long)s.probation_pages, kPages);

  tmc_test_step("pages touched within the probation age come back from their slots");
  CHECK(h->bad_pages("read back from probation") == 0, "pages read wrong from probation");
  REQUIRE(wait_probation_drained(30), "probation did not drain within 30 s");
  tmc_stats after = ct::stats();
  printf("returned %llu, graduated %llu\n", (unsigned long long)(after.probation_returned - s.probation_returned),
         (unsigned long long)(after.probation_graduated - s.probation_graduated));
  CHECK(after.probation_returned - s.probation_returned >= kPages / 2,
        "only %llu pages were counted as back from probation after %zu were read",
        (unsigned long long)(after.probation_returned - s.probation_returned), kPages);

  tmc_test_step("pages left alone are compressed after the probation age and read back right");
  // New bytes, untouched from their eviction to their compression (the pages read above
  // were evicted again at once, and are compressed by now).
  for (size_t i = 0; i < kPages; ++i) h->write(i, Heap::page_seed(3000 + i));
  h->wait_all_evicted("second eviction");
  const tmc_stats before_grad = ct::stats();
  REQUIRE(wait_probation_drained(30), "probation did not drain within 30 s");
  s = ct::stats();
  CHECK(s.probation_graduated - before_grad.probation_graduated >= kPages / 2,
        "only %llu pages were compressed after probation", (unsigned long long)(s.probation_graduated - before_grad.probation_graduated));
  CHECK(h->bad_pages("after probation and compression") == 0, "pages read wrong after compression");

  tmc_test_step("a fork while pages wait in probation (incompressible ones among them)");
  RandomBlock r{static_cast<char*>(aligned_alloc(ct::kPage, kRandomPages * ct::kPage)), 0};
  REQUIRE(r.p != nullptr, "aligned_alloc failed");
  r.write(777);
  for (size_t i = 0; i < kPages; ++i) h->write(i, Heap::page_seed(5000 + i));
  h->wait_all_evicted("before the fork");
  REQUIRE(ct::wait_evicted(r.p, kRandomPages * ct::kPage, kRandomPages / 10, 30) <= static_cast<long>(kRandomPages / 10),
          "the incompressible block was not moved out");
  s = ct::stats();
  REQUIRE(s.probation_pages >= kPages / 2, "only %llu pages in probation at the fork", (unsigned long long)s.probation_pages);
  pid_t pid = fork();
  REQUIRE(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    // At once: from the parent's slots (served by the parent during the fork's window, or by
    // this process from its copy); later: after this process's reclaimer graduated them.
    int code = h->bad_pages("child, at once") == 0 && r.bad_pages() == 0 ? 0 : 1;
    for (size_t i = 0; i < kPages; ++i) h->write(i, Heap::page_seed(9000 + i));
    r.write(999);
    ct::wait_evicted(h->pages, kPages * ct::kPage, kPages / 50, 30);
    if (!wait_probation_drained(30)) code = 2;
    if (h->bad_pages("child, after graduation") != 0 || r.bad_pages() != 0) code = 3;
    _exit(code);
  }
  REQUIRE(wait_probation_drained(30), "the parent's probation did not drain within 30 s");
  CHECK(h->bad_pages("parent, after the fork") == 0, "the parent read pages wrong after the fork");
  CHECK(r.bad_pages() == 0, "the parent read incompressible pages wrong after the fork");
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status 0x%x: 1 wrong at once, 2 no drain, 3 wrong later)",
        status);

  s = ct::stats();
  ct::print_stats("at the end", s);
  printf("probation_pages=%llu returned=%llu graduated=%llu incompressible=%llu self_faults=%llu\n",
         (unsigned long long)s.probation_pages, (unsigned long long)s.probation_returned,
         (unsigned long long)s.probation_graduated, (unsigned long long)s.incompressible,
         (unsigned long long)s.self_faults);
  CHECK(s.incompressible > 0, "no page was found incompressible: the move back from probation was not tried");
  CHECK(s.self_faults == 0, "libtmc's own threads took %llu faults on managed memory", (unsigned long long)s.self_faults);
  free(r.p);
  return tmc_test_finish("compress_probation");
}
