// Invariant 1 when UFFDIO_MOVE reports pages as not moved that it moved, as Linux 6.18 does
// now and then (tests/repro/move_eexist.c): run with TMC_TEST_MOVE_MISREPORT=N, which makes
// every Nth move that succeeded report EEXIST and nothing moved, or EAGAIN and half of it
// (src/platform/uffd.cc). Three rounds of: fill 32 MiB of pages, each stamped with its
// round and index; wait until most are evicted; read every page back. A page the reclaimer
// thought it had not moved reads zero; a reclaimer that reused the slot such a page
// occupies fails every later move and evicts nothing more.
#include <stdlib.h>

#include "compress_test.h"

namespace {

using ct::kPage;

constexpr size_t kPages = 8192;

void stamp(char* p, uint64_t round, size_t i) {
  ct::fill_text(p, kPage, round * 1000003 + i);
  uint64_t head[2] = {round, i};
  memcpy(p, head, sizeof(head));
}

}  // namespace

int main() {
  ct::require_engine_environment("compress_move_report");
  const char* every = getenv("TMC_TEST_MOVE_MISREPORT");
  if (every == nullptr || atoi(every) <= 0) {
    printf("compress_move_report: SKIP: needs TMC_TEST_MOVE_MISREPORT=N\n");
    return TMC_TEST_SKIP;
  }
  void* mem = nullptr;
  REQUIRE(posix_memalign(&mem, kPage, kPages * kPage) == 0 && mem, "posix_memalign failed");
  char* buf = static_cast<char*>(mem);
  static char want[kPage];
  for (uint64_t round = 1; round <= 3; ++round) {
    printf("-- round %llu: fill %zu pages, wait until 7/8 of them are evicted, read them back\n",
           (unsigned long long)round, kPages);
    fflush(stdout);
    for (size_t i = 0; i < kPages; ++i) stamp(buf + i * kPage, round, i);
    tmc_stats before = ct::stats();
    long present = ct::wait_evicted(buf, kPages * kPage, kPages / 8, 20);
    tmc_stats after = ct::stats();
    size_t lost = 0, zero = 0;
    for (size_t i = 0; i < kPages; ++i) {
      stamp(want, round, i);
      if (memcmp(buf + i * kPage, want, kPage) == 0) continue;
      ++lost;
      bool z = ct::all_zero(buf + i * kPage, kPage);
      zero += z;
      if (lost <= 5)
        fprintf(stderr, "LOST page %zu (%p) of round %llu: %s\n", i, static_cast<void*>(buf + i * kPage),
                (unsigned long long)round, z ? "reads all zero" : "holds other bytes");
    }
    printf("round %llu: %llu evictions, %ld of %zu pages still present after the wait; %zu pages read back wrong (%zu zero)\n",
           (unsigned long long)round, (unsigned long long)(after.evictions - before.evictions), present, kPages, lost,
           zero);
    CHECK(lost == 0, "round %llu: %zu pages lost", (unsigned long long)round, lost);
    CHECK(present >= 0 && present <= static_cast<long>(kPages / 8),
          "round %llu: eviction stopped with %ld of %zu pages still present", (unsigned long long)round, present, kPages);
  }
  // The injected misreports were met and followed: otherwise this test proved nothing.
  tmc_stats end = ct::stats();
  CHECK(end.move_misreports > 0, "no misreported move was seen (TMC_TEST_MOVE_MISREPORT=%s)", every);
  printf("misreported moves followed through the page tables: %llu pages\n", (unsigned long long)end.move_misreports);
  ct::print_stats("compress_move_report", end);
  return tmc_test_failures() ? 1 : 0;
}
