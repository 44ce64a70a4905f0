// mlock()ed memory stays resident (a trap of the design notes): a locked 8 MiB block of the
// heap is never evicted, while an unlocked one next to it is, and compression goes on for the
// rest of the process (one locked block must not stop the engine). Both blocks keep their
// data. Run with TMC_COLD_AGE=0.
#include <sys/mman.h>

#include "compress_test.h"

namespace {

constexpr size_t kPages = 2048;  // 8 MiB: a block of its own in jemalloc's huge arena

char* filled_block(uint64_t seed) {
  char* p = static_cast<char*>(aligned_alloc(ct::kPage, kPages * ct::kPage));
  REQUIRE(p != nullptr, "aligned_alloc failed");
  for (size_t i = 0; i < kPages; ++i) ct::fill_text(p + i * ct::kPage, ct::kPage, seed + i);
  return p;
}

size_t bad_pages(const char* p, uint64_t seed) {
  static char want[ct::kPage];
  size_t bad = 0;
  for (size_t i = 0; i < kPages; ++i) {
    ct::fill_text(want, ct::kPage, seed + i);
    bad += memcmp(p + i * ct::kPage, want, ct::kPage) != 0;
  }
  return bad;
}

}  // namespace

int main() {
  ct::require_engine_environment("compress_mlock");
  tmc_test_step("a locked block stays resident while an unlocked one is evicted");
  char* locked = filled_block(1000);
  if (mlock(locked, kPages * ct::kPage) != 0) {
    printf("compress_mlock: SKIP: mlock failed (%s; RLIMIT_MEMLOCK?)\n", strerror(errno));
    return TMC_TEST_SKIP;
  }
  char* unlocked = filled_block(90000);
  long present = ct::wait_evicted(unlocked, kPages * ct::kPage, kPages / 10, 20);
  REQUIRE(present >= 0 && present <= static_cast<long>(kPages / 10),
          "the unlocked block was not evicted within 20 s (%ld of %zu pages present)", present, kPages);
  // Give the reclaimer a few more passes over the locked block.
  ct::sleep_ms(500);
  CHECK(ct::present_pages(locked, kPages * ct::kPage) == static_cast<long>(kPages),
        "%ld of %zu locked pages are present", ct::present_pages(locked, kPages * ct::kPage), kPages);
  tmc_stats s = ct::stats();
  ct::print_stats("after eviction", s);

  tmc_test_step("compression goes on after meeting locked memory; data intact");
  char* later = filled_block(500000);
  present = ct::wait_evicted(later, kPages * ct::kPage, kPages / 10, 20);
  CHECK(present >= 0 && present <= static_cast<long>(kPages / 10),
        "a block written after the locked one met the reclaimer was not evicted (%ld present)", present);
  CHECK(bad_pages(locked, 1000) == 0, "locked block: %zu pages differ", bad_pages(locked, 1000));
  CHECK(bad_pages(unlocked, 90000) == 0, "unlocked block: %zu pages differ", bad_pages(unlocked, 90000));
  CHECK(bad_pages(later, 500000) == 0, "later block: %zu pages differ", bad_pages(later, 500000));
  s = ct::stats();
  REQUIRE(s.faults > 0, "no faults: the evicted blocks were never read back from the pool");
  ct::print_stats("at the end", s);
  munlock(locked, kPages * ct::kPage);
  free(locked);
  free(unlocked);
  free(later);
  return tmc_test_finish("compress_mlock");
}
