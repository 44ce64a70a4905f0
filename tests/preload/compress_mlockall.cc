// mlockall(MCL_CURRENT | MCL_FUTURE) under libtmc, as a program that must not page (a
// real-time or security-minded one) uses it. Run with TMC_COLD_AGE=0.
//
//   - pages evicted before the call are back and locked after it, with their data;
//   - the heap's reserved but unused address space is not populated (a plain mlockall would
//     fault in every managed region whole: a GiB each);
//   - memory allocated afterwards is resident and locked at once, without a touch;
//   - nothing is evicted while the lock holds;
//   - after munlockall, eviction resumes (the locked block goes out again).
#include <sys/mman.h>

#include "compress_test.h"

namespace {

constexpr size_t kBlockPages = 2048;  // 8 MiB

char* filled_block(size_t pages, uint64_t seed) {
  char* p = static_cast<char*>(aligned_alloc(ct::kPage, pages * ct::kPage));
  REQUIRE(p != nullptr, "aligned_alloc failed");
  for (size_t i = 0; i < pages; ++i) ct::fill_text(p + i * ct::kPage, ct::kPage, seed + i);
  return p;
}

size_t bad_pages(const char* p, size_t pages, uint64_t seed) {
  static char want[ct::kPage];
  size_t bad = 0;
  for (size_t i = 0; i < pages; ++i) {
    ct::fill_text(want, ct::kPage, seed + i);
    bad += memcmp(p + i * ct::kPage, want, ct::kPage) != 0;
  }
  return bad;
}

// A "Name:   123 kB" field of /proc/self/status, in kB.
long status_kb(const char* name) {
  FILE* f = fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  size_t n = strlen(name);
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, name, n) == 0 && line[n] == ':') kb = strtol(line + n + 1, nullptr, 10);
  fclose(f);
  return kb;
}

// kB of [p, p+bytes) that /proc/self/smaps says are locked (the "Locked:" lines of the
// mappings it overlaps, counted in proportion to the overlap).
long locked_kb(const void* p, size_t bytes) {
  FILE* f = fopen("/proc/self/smaps", "r");
  if (f == nullptr) return -1;
  uintptr_t a = reinterpret_cast<uintptr_t>(p), e = a + bytes;
  char line[512];
  uintptr_t start = 0, end = 0;
  double total = 0;
  while (fgets(line, sizeof(line), f)) {
    unsigned long s, t;
    char perms[8];
    long kb;
    if (sscanf(line, "%lx-%lx %7s", &s, &t, perms) == 3) {  // a mapping's header line
      start = s;
      end = t;
    } else if (sscanf(line, "Locked: %ld kB", &kb) == 1 && start < e && a < end) {
      uintptr_t lo = start > a ? start : a, hi = end < e ? end : e;
      total += static_cast<double>(kb) * static_cast<double>(hi - lo) / static_cast<double>(end - start);
    }
  }
  fclose(f);
  return static_cast<long>(total);
}

}  // namespace

int main() {
  ct::require_engine_environment("compress_mlockall");

  tmc_test_step("a block evicted before mlockall");
  char* before = filled_block(kBlockPages, 1000);
  long present = ct::wait_evicted(before, kBlockPages * ct::kPage, kBlockPages / 10, 20);
  REQUIRE(present >= 0 && present <= static_cast<long>(kBlockPages / 10),
          "the block was not evicted within 20 s (%ld of %zu pages present)", present, kBlockPages);
  long rss_before = status_kb("VmRSS");

  tmc_test_step("mlockall(MCL_CURRENT | MCL_FUTURE)");
  if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
    printf("compress_mlockall: SKIP: mlockall failed (%s; RLIMIT_MEMLOCK?)\n", strerror(errno));
    return TMC_TEST_SKIP;
  }
  long rss_locked = status_kb("VmRSS");
  printf("VmRSS %ld kB before, %ld kB after mlockall; VmLck %ld kB\n", rss_before, rss_locked, status_kb("VmLck"));
  present = ct::present_pages(before, kBlockPages * ct::kPage);
  CHECK(present == static_cast<long>(kBlockPages), "%ld of %zu pages of the evicted block are back", present, kBlockPages);
  long locked = locked_kb(before, kBlockPages * ct::kPage);
  CHECK(locked >= static_cast<long>(kBlockPages * 4) - 8, "%ld kB of the block's %zu kB are locked", locked, kBlockPages * 4);
  // The block (8 MiB) came back; the rest of the heap's reservation (a GiB) must not have.
  // VmRSS also grows by every thread's whole stack (8 MiB each) and, under ASan, by the
  // sanitizer's own mappings: 60-70 MB here; a populated region would add a GiB.
  CHECK(rss_locked - rss_before < 256 * 1024, "mlockall grew VmRSS by %ld kB", rss_locked - rss_before);
  tmc_stats s = ct::stats();
  CHECK(ct::evicted_now(s) == 0, "%llu pages are still evicted", static_cast<unsigned long long>(ct::evicted_now(s)));

  tmc_test_step("memory allocated after mlockall is resident and locked at once");
  size_t sizes[] = {600 * 1024, 5 * 4096 + 100, 16 << 20};
  char* later[3];
  for (int i = 0; i < 3; ++i) {
    later[i] = static_cast<char*>(malloc(sizes[i]));
    REQUIRE(later[i] != nullptr, "malloc failed");
    present = ct::present_pages(later[i], sizes[i]);
    long pages = static_cast<long>((reinterpret_cast<uintptr_t>(later[i]) + sizes[i]) / ct::kPage -
                                   (reinterpret_cast<uintptr_t>(later[i]) + ct::kPage - 1) / ct::kPage);
    CHECK(present == pages, "allocation of %zu bytes: %ld of %ld whole pages present before any touch", sizes[i],
          present, pages);
    locked = locked_kb(later[i], sizes[i]);
    CHECK(locked >= pages * 4, "allocation of %zu bytes: %ld of %ld kB locked", sizes[i], locked, pages * 4);
  }
  for (int i = 0; i < 3; ++i) ct::fill_text(later[i], sizes[i], 77 + i);

  tmc_test_step("nothing is evicted while locked");
  uint64_t evictions = ct::stats().evictions;
  ct::sleep_ms(1500);
  s = ct::stats();
  CHECK(s.evictions == evictions, "%llu pages were evicted while the process was locked",
        static_cast<unsigned long long>(s.evictions - evictions));
  present = ct::present_pages(before, kBlockPages * ct::kPage);
  CHECK(present == static_cast<long>(kBlockPages), "%ld of %zu pages of the locked block present", present, kBlockPages);
  CHECK(bad_pages(before, kBlockPages, 1000) == 0, "the block read back wrong");

  tmc_test_step("munlockall: eviction resumes");
  REQUIRE(munlockall() == 0, "munlockall failed: %s", strerror(errno));
  CHECK(status_kb("VmLck") == 0, "VmLck is %ld kB after munlockall", status_kb("VmLck"));
  present = ct::wait_evicted(before, kBlockPages * ct::kPage, kBlockPages / 10, 20);
  CHECK(present >= 0 && present <= static_cast<long>(kBlockPages / 10),
        "the block was not evicted again within 20 s of munlockall (%ld of %zu pages present)", present, kBlockPages);
  CHECK(bad_pages(before, kBlockPages, 1000) == 0, "the block read back wrong at the end");
  s = ct::stats();
  ct::print_stats("at the end", s);
  REQUIRE(s.faults > 0, "no faults: nothing was ever brought back from the pool");
  free(before);
  for (char* p : later) free(p);
  return tmc_test_finish("compress_mlockall");
}
