// TMC_KSM=1: the kernel's KSM merges identical heap pages and libtmc reports it
// (ksm_merging_pages, ksm_profit_bytes); under an RSS target the reclaimer leaves merged
// pages resident (UFFDIO_MOVE refuses shared pages: they are skipped, not failures) while it
// evicts the rest, a write gives a merged page its own copy again, which can then be evicted,
// and every byte stays what was written. Run with TMC_KSM=1 TMC_COLD_AGE=1h and TMCCTL.
//
// ksmd is machine-wide: as root the test starts it with a fast scan and puts its settings
// back at exit; without root it runs only if ksmd already runs.
#include <spawn.h>
#include <sys/wait.h>

#include <string>

#include "compress_test.h"

extern char** environ;

namespace {

constexpr size_t kDupPages = 2048;     // 64 distinct contents, 32 copies each
constexpr size_t kContents = 64;
constexpr size_t kUniquePages = 1024;  // all different: evicted under the target
constexpr uint64_t kDupSeed = 7000, kUniqueSeed = 90000, kRewriteSeed = 500000;

// ksmd's settings as found, put back at exit.
struct KsmdSetting {
  const char* path;
  std::string saved;
};
KsmdSetting g_settings[] = {{"/sys/kernel/mm/ksm/run", ""},
                            {"/sys/kernel/mm/ksm/pages_to_scan", ""},
                            {"/sys/kernel/mm/ksm/sleep_millisecs", ""}};
bool g_changed = false;

std::string read_setting(const char* path) {
  char buf[64] = {};
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  std::string s(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

bool write_setting(const char* path, const std::string& value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  close(fd);
  return ok;
}

void restore_ksmd() {
  if (!g_changed) return;
  // pages_to_scan and sleep_millisecs first: run=1 with our fast scan must not outlive us.
  for (int i = 2; i >= 0; --i) write_setting(g_settings[i].path, g_settings[i].saved);
}

void start_ksmd() {
  for (auto& s : g_settings) s.saved = read_setting(s.path);
  if (geteuid() != 0) {
    if (g_settings[0].saved != "1") {
      printf("compress_ksm: SKIP: ksmd is not running and only root can start it\n");
      exit(TMC_TEST_SKIP);
    }
    return;
  }
  g_changed = true;
  atexit(restore_ksmd);
  REQUIRE(write_setting(g_settings[1].path, "4000") && write_setting(g_settings[2].path, "10") &&
              write_setting(g_settings[0].path, "1"),
          "cannot set ksmd's settings (%s)", strerror(errno));
}

char* filled(size_t pages, uint64_t seed, size_t distinct) {
  char* p = static_cast<char*>(aligned_alloc(ct::kPage, pages * ct::kPage));
  REQUIRE(p != nullptr, "aligned_alloc failed");
  for (size_t i = 0; i < pages; ++i) ct::fill_text(p + i * ct::kPage, ct::kPage, seed + i % distinct);
  return p;
}

// Pages of [p, p + pages) whose bytes are not what expected_seed(i) says they should be.
template <typename SeedOf>
size_t bad_pages(const char* p, size_t pages, SeedOf expected_seed) {
  static char want[ct::kPage];
  size_t bad = 0;
  for (size_t i = 0; i < pages; ++i) {
    ct::fill_text(want, ct::kPage, expected_seed(i));
    bad += memcmp(p + i * ct::kPage, want, ct::kPage) != 0;
  }
  return bad;
}

void set_target(const char* value) {
  const char* tmcctl = getenv("TMCCTL");
  REQUIRE(tmcctl != nullptr, "TMCCTL is not set (the path of tmcctl)");
  std::string pid = std::to_string(getpid());
  const char* argv[] = {tmcctl, "target", pid.c_str(), value, nullptr};
  pid_t child;
  REQUIRE(posix_spawn(&child, tmcctl, nullptr, nullptr, const_cast<char**>(argv), environ) == 0,
          "cannot run %s", tmcctl);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tmcctl target %s failed", value);
}

}  // namespace

int main() {
  ct::require_engine_environment("compress_ksm");
  const char* ksm = getenv("TMC_KSM");
  REQUIRE(ksm != nullptr && strcmp(ksm, "1") == 0, "run with TMC_KSM=1");
  if (access("/sys/kernel/mm/ksm/run", F_OK) != 0) {
    printf("compress_ksm: SKIP: this kernel has no KSM\n");
    return TMC_TEST_SKIP;
  }
  start_ksmd();

  tmc_test_step("KSM merges the heap's duplicate pages, and libtmc reports them");
  char* dup = filled(kDupPages, kDupSeed, kContents);
  char* unique = filled(kUniquePages, kUniqueSeed, kUniquePages);
  auto dup_seed = [](size_t i) { return kDupSeed + i % kContents; };
  auto unique_seed = [](size_t i) { return kUniqueSeed + i; };
  bool merged = ct::wait_stats([](const tmc_stats& s) { return s.ksm_merging_pages >= kDupPages * 9 / 10; }, 90);
  tmc_stats s = ct::stats();
  printf("after merging: ksm_merging_pages=%llu ksm_profit_bytes=%llu rss=%llu MiB\n",
         (unsigned long long)s.ksm_merging_pages, (unsigned long long)s.ksm_profit_bytes,
         (unsigned long long)(s.rss_bytes >> 20));
  REQUIRE(merged, "KSM merged %llu of %zu duplicate pages within 90 s", (unsigned long long)s.ksm_merging_pages,
          kDupPages);
  CHECK(s.ksm_profit_bytes > kDupPages / 2 * ct::kPage, "KSM profit %llu bytes, less than half the duplicates",
        (unsigned long long)s.ksm_profit_bytes);
  CHECK(bad_pages(dup, kDupPages, dup_seed) == 0, "merged pages read back different");

  tmc_test_step("under a target, merged pages stay resident and the rest is evicted");
  uint64_t busy_before = s.busy_skips;
  set_target("1M");  // below anything reachable: every page the reclaimer may take goes
  long present = ct::wait_evicted(unique, kUniquePages * ct::kPage, kUniquePages / 10, 60);
  REQUIRE(present >= 0 && present <= static_cast<long>(kUniquePages / 10),
          "the unique pages were not evicted within 60 s (%ld of %zu present)", present, kUniquePages);
  s = ct::stats();
  ct::print_stats("after the target's passes", s);
  long dup_present = ct::present_pages(dup, kDupPages * ct::kPage);
  printf("merged block: %ld of %zu pages present, busy_skips +%llu\n", dup_present, kDupPages,
         (unsigned long long)(s.busy_skips - busy_before));
  // Pages KSM had not merged yet may go; the merged ones may not.
  CHECK(dup_present >= static_cast<long>(kDupPages * 9 / 10), "merged pages were evicted (%ld of %zu present)",
        dup_present, kDupPages);
  CHECK(s.busy_skips > busy_before, "the reclaimer never met a merged page");
  CHECK(s.verify_failures == 0 && s.self_faults == 0, "verify_failures=%llu self_faults=%llu",
        (unsigned long long)s.verify_failures, (unsigned long long)s.self_faults);

  tmc_test_step("a write unmerges a page, which the reclaimer then takes; every byte as written");
  // Every other page of the first half gets new contents of its own.
  auto rewritten = [](size_t i) { return i < kDupPages / 2 && i % 2 == 0; };
  for (size_t i = 0; i < kDupPages; ++i)
    if (rewritten(i)) ct::fill_text(dup + i * ct::kPage, ct::kPage, kRewriteSeed + i);
  auto after_seed = [&](size_t i) { return rewritten(i) ? kRewriteSeed + i : kDupSeed + i % kContents; };
  size_t rewrites = kDupPages / 4;
  bool taken = ct::wait_stats([&](const tmc_stats& t) { return t.evictions >= s.evictions + rewrites * 9 / 10; }, 60);
  tmc_stats t = ct::stats();
  CHECK(taken, "%llu evictions after the rewrite of %zu pages, expected about as many",
        (unsigned long long)(t.evictions - s.evictions), rewrites);
  set_target("off");
  CHECK(bad_pages(dup, kDupPages, after_seed) == 0, "%zu pages of the merged block differ",
        bad_pages(dup, kDupPages, after_seed));
  CHECK(bad_pages(unique, kUniquePages, unique_seed) == 0, "%zu unique pages differ",
        bad_pages(unique, kUniquePages, unique_seed));
  t = ct::stats();
  ct::print_stats("at the end", t);
  REQUIRE(t.faults > 0, "no faults: evicted pages were never read back");
  CHECK(t.verify_failures == 0 && t.self_faults == 0, "verify_failures=%llu self_faults=%llu",
        (unsigned long long)t.verify_failures, (unsigned long long)t.self_faults);
  free(dup);
  free(unique);
  return tmc_test_finish("compress_ksm");
}
