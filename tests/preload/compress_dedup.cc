// Pool dedup (TMC_DEDUP, dedup/content_index.h): identical evicted pages share one blob;
// each comes back exact when the other is written; a forced hash collision never merges
// pages of different bytes; a forked child reads and writes shared pages exactly; with
// TMC_DEDUP=0 nothing is shared. Run with TMC_COLD_AGE=0 and one mode:
//   share     identical pages share blobs, writes after the sharing stay apart
//   collide   with TMC_TEST_DEDUP_COLLIDE=1: every lookup meets other bytes
//   fork      a child and its parent both read and write pages that share blobs
//   off       with TMC_DEDUP=0: duplicates are compressed one by one
#include <sys/wait.h>

#include "compress_test.h"

namespace {

constexpr size_t kContents = 64;          // distinct page contents...
constexpr size_t kCopies = 32;            // ...each this many times
constexpr size_t kDupPages = kContents * kCopies;
constexpr size_t kUniquePages = 512;      // all different
constexpr uint64_t kDupSeed = 1000, kUniqueSeed = 50000, kWriteSeed = 900000;

struct Heap {
  char* dup;
  char* unique;
  // What each page should hold now (a seed of ct::fill_text).
  uint64_t dup_seed[kDupPages];
  uint64_t unique_seed[kUniquePages];
};

char* pages_of(size_t n) {
  char* p = static_cast<char*>(aligned_alloc(ct::kPage, n * ct::kPage));
  REQUIRE(p != nullptr, "aligned_alloc of %zu pages failed", n);
  return p;
}

Heap* make_heap() {
  auto* h = static_cast<Heap*>(malloc(sizeof(Heap)));
  REQUIRE(h != nullptr, "malloc failed");
  h->dup = pages_of(kDupPages);
  h->unique = pages_of(kUniquePages);
  // Copies of one content are spread over the block (content i % kContents), so the pages
  // that share a blob are far apart and go in different batches.
  for (size_t i = 0; i < kDupPages; ++i) {
    h->dup_seed[i] = kDupSeed + i % kContents;
    ct::fill_text(h->dup + i * ct::kPage, ct::kPage, h->dup_seed[i]);
  }
  for (size_t i = 0; i < kUniquePages; ++i) {
    h->unique_seed[i] = kUniqueSeed + i;
    ct::fill_text(h->unique + i * ct::kPage, ct::kPage, h->unique_seed[i]);
  }
  return h;
}

// Pages of `p` that do not hold what seeds[] says; the first few are reported.
size_t bad_pages(const char* what, const char* p, const uint64_t* seeds, size_t n) {
  static char want[ct::kPage];
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    ct::fill_text(want, ct::kPage, seeds[i]);
    if (memcmp(p + i * ct::kPage, want, ct::kPage) == 0) continue;
    if (++bad <= 3) ct::report_mismatch(what, p + i * ct::kPage, p + i * ct::kPage, want, ct::kPage);
  }
  return bad;
}

size_t bad_heap(const Heap* h) {
  return bad_pages("duplicate block", h->dup, h->dup_seed, kDupPages) +
         bad_pages("unique block", h->unique, h->unique_seed, kUniquePages);
}

void wait_all_evicted(const Heap* h, const char* when) {
  long dup = ct::wait_evicted(h->dup, kDupPages * ct::kPage, kDupPages / 50, 60);
  long unique = ct::wait_evicted(h->unique, kUniquePages * ct::kPage, kUniquePages / 50, 60);
  REQUIRE(dup >= 0 && dup <= static_cast<long>(kDupPages / 50) && unique >= 0 &&
              unique <= static_cast<long>(kUniquePages / 50),
          "%s: pages not evicted within 60 s (%ld of %zu duplicates, %ld of %zu unique present)", when, dup,
          kDupPages, unique, kUniquePages);
}

void print_dedup(const char* what, const tmc_stats& s) {
  printf("%s: compressed_pages=%llu dedup_pages=%llu dedup_saved_bytes=%llu compr_bytes=%llu compared=%llu "
         "collisions=%llu index_bytes=%llu cpu_ns_dedup=%llu verify_failures=%llu\n",
         what, (unsigned long long)s.compressed_pages, (unsigned long long)s.dedup_pages,
         (unsigned long long)s.dedup_saved_bytes, (unsigned long long)s.compr_bytes,
         (unsigned long long)s.dedup_compared_pages, (unsigned long long)s.dedup_hash_collisions,
         (unsigned long long)s.dedup_index_bytes, (unsigned long long)s.cpu_ns_dedup,
         (unsigned long long)s.verify_failures);
  fflush(stdout);
}

// Writes page i of the duplicate block with content of its own.
void rewrite(Heap* h, size_t i) {
  h->dup_seed[i] = kWriteSeed + i;
  ct::fill_text(h->dup + i * ct::kPage, ct::kPage, h->dup_seed[i]);
}

int share() {
  tmc_test_step("identical pages share one blob");
  Heap* h = make_heap();
  wait_all_evicted(h, "first eviction");
  tmc_stats s = ct::stats();
  print_dedup("after eviction", s);
  // Each content is compressed once; its other copies share. The sampler looks at every
  // page from the start, so (almost) every copy is found.
  CHECK(s.dedup_pages >= (kDupPages - kContents) * 9 / 10, "only %llu of %zu copies share a blob",
        (unsigned long long)s.dedup_pages, kDupPages - kContents);
  CHECK(s.dedup_saved_bytes > 0 && s.compr_bytes < s.dedup_saved_bytes,
        "dedup saved %llu bytes, the pool holds %llu", (unsigned long long)s.dedup_saved_bytes,
        (unsigned long long)s.compr_bytes);
  CHECK(s.dedup_compared_pages >= s.dedup_pages, "%llu pages shared, only %llu compared",
        (unsigned long long)s.dedup_compared_pages, (unsigned long long)s.dedup_pages);
  CHECK(s.dedup_hash_collisions == 0, "%llu collisions of a 64-bit hash", (unsigned long long)s.dedup_hash_collisions);
  CHECK(s.dedup_index_bytes > 0, "no dedup index");

  tmc_test_step("a write to one copy leaves the others as they were");
  // Copy 0 of every content is written; copies 1.. are read right after, while they still
  // share the blob the written page has left.
  uint64_t faults_before = s.faults;
  for (size_t c = 0; c < kContents; ++c) rewrite(h, c);
  static char want[ct::kPage];
  size_t bad = 0;
  for (size_t c = 0; c < kContents; ++c) {
    ct::fill_text(want, ct::kPage, h->dup_seed[c + kContents]);
    bad += memcmp(h->dup + (c + kContents) * ct::kPage, want, ct::kPage) != 0;
  }
  CHECK(bad == 0, "%zu copies read back wrong right after another copy was written", bad);
  CHECK(bad_heap(h) == 0, "pages read back wrong after the writes");
  s = ct::stats();
  CHECK(s.faults >= faults_before + kContents, "the writes did not fault (%llu faults)",
        (unsigned long long)(s.faults - faults_before));
  CHECK(s.verify_failures == 0, "verify_failures=%llu", (unsigned long long)s.verify_failures);

  tmc_test_step("evicted again, written pages have blobs of their own, every page exact");
  wait_all_evicted(h, "second eviction");
  s = ct::stats();
  print_dedup("after the second eviction", s);
  CHECK(bad_heap(h) == 0, "pages read back wrong after the second eviction");
  s = ct::stats();
  CHECK(s.verify_failures == 0, "verify_failures=%llu", (unsigned long long)s.verify_failures);
  return tmc_test_failures() == 0 ? 0 : 1;
}

int collide() {
  tmc_test_step("every page has the same dedup key: lookups meet other bytes, nothing merges wrongly");
  Heap* h = make_heap();
  wait_all_evicted(h, "eviction");
  tmc_stats s = ct::stats();
  print_dedup("after eviction", s);
  CHECK(s.dedup_hash_collisions > kUniquePages / 2, "only %llu collisions counted",
        (unsigned long long)s.dedup_hash_collisions);
  CHECK(bad_heap(h) == 0, "pages read back wrong");
  s = ct::stats();
  CHECK(s.verify_failures == 0, "verify_failures=%llu", (unsigned long long)s.verify_failures);
  return tmc_test_failures() == 0 ? 0 : 1;
}

int fork_mode() {
  tmc_test_step("a forked child reads and writes pages that share blobs");
  Heap* h = make_heap();
  wait_all_evicted(h, "eviction");
  tmc_stats s = ct::stats();
  print_dedup("before fork", s);
  REQUIRE(s.dedup_pages >= (kDupPages - kContents) / 2, "too little sharing to test (%llu pages)",
          (unsigned long long)s.dedup_pages);
  pid_t pid = fork();
  REQUIRE(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    // The child writes the odd copies of every content and checks everything, twice, the
    // second time after its own reclaimer has evicted and shared again.
    for (size_t i = 1; i < kDupPages; i += 2) rewrite(h, i);
    size_t bad = bad_heap(h);
    wait_all_evicted(h, "child's eviction");
    bad += bad_heap(h);
    tmc_stats c = ct::stats();
    print_dedup("child", c);
    _exit(bad == 0 && c.verify_failures == 0 ? 0 : 1);
  }
  // The parent writes the even copies at the same time, then checks its own view.
  for (size_t i = 0; i < kDupPages; i += 2) rewrite(h, i);
  CHECK(bad_heap(h) == 0, "the parent's pages read back wrong");
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child found wrong pages (status %d)", status);
  wait_all_evicted(h, "parent's eviction after the fork");
  CHECK(bad_heap(h) == 0, "the parent's pages read back wrong after eviction");
  s = ct::stats();
  print_dedup("parent after fork", s);
  CHECK(s.verify_failures == 0, "verify_failures=%llu", (unsigned long long)s.verify_failures);
  return tmc_test_failures() == 0 ? 0 : 1;
}

int off() {
  tmc_test_step("TMC_DEDUP=0: duplicates are compressed one by one");
  Heap* h = make_heap();
  wait_all_evicted(h, "eviction");
  tmc_stats s = ct::stats();
  print_dedup("after eviction", s);
  CHECK(s.compressed_pages >= (kDupPages + kUniquePages) * 9 / 10, "only %llu pages compressed",
        (unsigned long long)s.compressed_pages);
  CHECK(s.dedup_pages == 0 && s.dedup_compared_pages == 0 && s.dedup_index_bytes == 0,
        "dedup ran although turned off");
  CHECK(bad_heap(h) == 0, "pages read back wrong");
  return tmc_test_failures() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  ct::require_engine_environment("compress_dedup");
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "share") == 0) return share();
  if (strcmp(mode, "collide") == 0) {
    const char* c = getenv("TMC_TEST_DEDUP_COLLIDE");
    REQUIRE(c != nullptr && strcmp(c, "1") == 0, "run with TMC_TEST_DEDUP_COLLIDE=1");
    return collide();
  }
  if (strcmp(mode, "fork") == 0) return fork_mode();
  if (strcmp(mode, "off") == 0) {
    const char* d = getenv("TMC_DEDUP");
    REQUIRE(d != nullptr && strcmp(d, "0") == 0, "run with TMC_DEDUP=0");
    return off();
  }
  fprintf(stderr, "usage: compress_dedup share|collide|fork|off\n");
  return 2;
}
