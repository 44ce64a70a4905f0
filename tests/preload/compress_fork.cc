// Invariant 3, fork is exact and cheap. 256 MiB of heap (JSON-like text records, with some
// zero and same-filled pages) is filled and left until nearly all of it is evicted; then
//  - fork+exec of /bin/true and posix_spawn of it are timed (printed, never asserted);
//  - a first child verifies every byte against what the parent held at fork time while the
//    parent overwrites all of its copy; the child must see the pre-fork contents (and must
//    have faulted them in lazily: its own fault count grows by most of the evicted pages),
//    the parent its new contents;
//  - once the parent's new contents are evicted again, a second child verifies them (a
//    fork after a fork still works) while the parent reads them too;
//  - 16 forks in a row, each child reading back a 1 MiB buffer that was evicted at fork
//    time (each fork hands the child its own userfaultfd; a lost hand-over reads zeros);
//  - a child that lives on evicts data it writes itself, and reads it back exactly.
// With TMC_TEST_NO_FORK_EVENTS=1 (libtmc as a process without CAP_SYS_PTRACE runs it) the
// same, except that the parent brings the evicted pages back before each fork.
// A child that hangs (a fault nobody serves) is killed after a timeout and reported with
// the kernel function it was blocked in. Run with TMC_COLD_AGE=0.
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <vector>

#include "compress_test.h"

extern char** environ;

namespace {

using ct::kPage;

constexpr size_t kBlockBytes = 4u << 20;

size_t g_blocks = 64;  // 256 MiB; FORK_MIB overrides
std::vector<char*>* g_mem;

// What page i (of the whole data set) holds in generation gen.
ct::Fill page_kind(size_t i) {
  if (i % 97 == 3) return ct::Fill::kZero;
  if (i % 89 == 5) return ct::Fill::kSame;
  return ct::Fill::kText;
}

char* page_at(size_t i) { return (*g_mem)[i / (kBlockBytes / kPage)] + (i % (kBlockBytes / kPage)) * kPage; }

size_t total_pages() { return g_blocks * (kBlockBytes / kPage); }

void fill_all(uint64_t gen) {
  for (size_t i = 0; i < total_pages(); ++i) ct::fill(page_kind(i), page_at(i), kPage, gen * 0x100000000ull + i);
}

// Verifies every page against generation gen; returns the bad pages, reports a few.
size_t verify_all(const char* who, uint64_t gen, uint64_t old_gen) {
  char want[kPage], old[kPage];
  size_t bad = 0;
  for (size_t i = 0; i < total_pages(); ++i) {
    ct::fill(page_kind(i), want, kPage, gen * 0x100000000ull + i);
    if (memcmp(page_at(i), want, kPage) == 0) continue;
    if (bad++ < 8) {
      ct::report_mismatch(who, page_at(i), page_at(i), want, kPage);
      if (old_gen != gen) {
        ct::fill(page_kind(i), old, kPage, old_gen * 0x100000000ull + i);
        if (memcmp(page_at(i), old, kPage) == 0) fprintf(stderr, "  (%s: page %zu holds generation %llu)\n", who, i, (unsigned long long)old_gen);
      }
    }
  }
  return bad;
}

long rss_kib() {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

// What a child reports to its parent through a pipe.
struct ChildReport {
  uint64_t bad_pages;
  uint64_t pages;
  uint64_t faults;      // pages its own engine brought back while it verified (faults + fault-around)
  long rss_after_fork;  // KiB, before it touched anything
  double verify_s;
};

// Waits for pid up to timeout_s; on timeout says where the child is blocked and kills it.
// Returns the wait status, or -1 after a kill.
int wait_child(pid_t pid, double timeout_s, const char* what) {
  double end = ct::now_s() + timeout_s;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return st;
    if (ct::now_s() > end) break;
    ct::sleep_ms(20);
  }
  char path[64], wchan[128] = "?";
  snprintf(path, sizeof(path), "/proc/%d/wchan", static_cast<int>(pid));
  if (FILE* f = fopen(path, "r")) {
    if (!fgets(wchan, sizeof(wchan), f)) strcpy(wchan, "?");
    fclose(f);
  }
  fprintf(stderr, "HUNG %s: child %d still running after %.0f s, blocked in the kernel at '%s'; killing it\n", what,
          static_cast<int>(pid), timeout_s, wchan);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

// Forks a child that verifies generation gen; returns its pid and the read end of its pipe.
pid_t fork_verifier(uint64_t gen, int* read_end, double* fork_ms) {
  int fds[2];
  REQUIRE(pipe(fds) == 0, "pipe");
  double t0 = ct::now_s();
  pid_t pid = fork();
  REQUIRE(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    ChildReport rep{};
    rep.rss_after_fork = rss_kib();
    rep.pages = total_pages();
    tmc_stats before = ct::stats();
    double v0 = ct::now_s();
    rep.bad_pages = verify_all("child", gen, gen - 1);
    rep.verify_s = ct::now_s() - v0;
    tmc_stats after = ct::stats();
    rep.faults = after.faults - before.faults + after.fault_around_pages - before.fault_around_pages;
    ssize_t w = write(fds[1], &rep, sizeof(rep));
    _exit(w == static_cast<ssize_t>(sizeof(rep)) ? 0 : 3);
  }
  *fork_ms = (ct::now_s() - t0) * 1000;
  close(fds[1]);
  *read_end = fds[0];
  return pid;
}

bool read_report(int fd, ChildReport* rep) {
  ssize_t n = read(fd, rep, sizeof(*rep));
  close(fd);
  return n == static_cast<ssize_t>(sizeof(*rep));
}

double time_fork_exec() {
  double t0 = ct::now_s();
  pid_t pid = fork();
  if (pid == 0) {
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    execve("/bin/true", argv, environ);
    _exit(127);
  }
  if (pid < 0) return -1;
  int st = wait_child(pid, 10, "fork+exec /bin/true");
  if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
  return (ct::now_s() - t0) * 1000;
}

double time_posix_spawn() {
  double t0 = ct::now_s();
  pid_t pid;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) return -1;
  int st = wait_child(pid, 10, "posix_spawn /bin/true");
  if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
  return (ct::now_s() - t0) * 1000;
}

// Median of three runs.
double median3(double (*f)()) {
  double a = f();
  if (a < 0) return -1;
  double b = f();
  if (b < 0) return -1;
  double c = f();
  if (c < 0) return -1;
  if (a > b) std::swap(a, b);
  if (b > c) std::swap(b, c);
  if (a > b) std::swap(a, b);
  return b;
}

bool wait_mostly_evicted(double timeout_s) {
  // 90% of the data set out of the page tables (zero and same-filled pages included).
  long max_present = static_cast<long>(total_pages() / 10);
  double end = ct::now_s() + timeout_s;
  for (;;) {
    long present = 0;
    for (char* b : *g_mem) present += ct::present_pages(b, kBlockBytes);
    if (present <= max_present) return true;
    if (ct::now_s() > end) {
      fprintf(stderr, "still %ld of %zu pages present after %.0f s\n", present, total_pages(), timeout_s);
      return false;
    }
    ct::sleep_ms(20);
  }
}

// TMC_TEST_NO_FORK_EVENTS=1: libtmc negotiates userfaultfd as a process without
// CAP_SYS_PTRACE does (no fork events), and fork() brings every evicted page back first.
bool no_fork_events() {
  const char* v = getenv("TMC_TEST_NO_FORK_EVENTS");
  return v != nullptr && strcmp(v, "1") == 0;
}

// restored_for_fork: the parent's fork_restored_pages gained by this fork.
bool check_child(const char* what, pid_t pid, int fd, uint64_t evicted_at_fork, uint64_t restored_for_fork) {
  ChildReport rep{};
  bool got = read_report(fd, &rep);
  int st = wait_child(pid, 60, what);
  CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s exited with status 0x%x", what, st);
  REQUIRE(got, "%s sent no report", what);
  printf("%s: verified %llu pages in %.2f s, %llu pages brought back in the child, child RSS right after fork %ld MiB\n", what,
         (unsigned long long)rep.pages, rep.verify_s, (unsigned long long)rep.faults, rep.rss_after_fork >> 10);
  CHECK(rep.bad_pages == 0, "%s: %llu of %llu pages differ from the parent's memory at fork time", what,
        (unsigned long long)rep.bad_pages, (unsigned long long)rep.pages);
  // What was evicted at fork time must really have been decompressed (else the check proved
  // nothing): lazily by the child, or, without fork events, by the parent before the fork.
  if (no_fork_events()) {
    printf("%s: the parent brought back %llu pages before forking\n", what, (unsigned long long)restored_for_fork);
    REQUIRE(restored_for_fork >= evicted_at_fork * 8 / 10, "%s: the fork brought back only %llu pages for %llu evicted",
            what, (unsigned long long)restored_for_fork, (unsigned long long)evicted_at_fork);
  } else {
    REQUIRE(rep.faults >= evicted_at_fork * 8 / 10, "%s brought back only %llu pages for %llu evicted at fork",
            what, (unsigned long long)rep.faults, (unsigned long long)evicted_at_fork);
  }
  return rep.bad_pages == 0;
}

}  // namespace

int main() {
  ct::require_engine_environment("compress_fork");
  if (const char* mib = getenv("FORK_MIB")) g_blocks = static_cast<size_t>(atol(mib)) / (kBlockBytes >> 20);
  if (g_blocks == 0) g_blocks = 1;
  size_t mib = g_blocks * (kBlockBytes >> 20);

  tmc_test_step("baseline: fork+exec and posix_spawn of /bin/true with an empty heap");
  double fe0 = median3(time_fork_exec), ps0 = median3(time_posix_spawn);
  REQUIRE(fe0 >= 0 && ps0 >= 0, "fork+exec or posix_spawn of /bin/true failed with an empty heap");
  printf("empty heap: fork+exec %.2f ms, posix_spawn %.2f ms\n", fe0, ps0);

  char title[128];
  snprintf(title, sizeof(title), "fill %zu MiB and wait until 90%% of it is evicted", mib);
  tmc_test_step(title);
  g_mem = new std::vector<char*>();
  for (size_t b = 0; b < g_blocks; ++b) {
    void* p = nullptr;
    REQUIRE(posix_memalign(&p, kPage, kBlockBytes) == 0, "posix_memalign");
    g_mem->push_back(static_cast<char*>(p));
  }
  tmc_stats s0 = ct::stats();
  fill_all(1);
  double t0 = ct::now_s();
  REQUIRE(wait_mostly_evicted(25), "the data set was not evicted");
  tmc_stats s1 = ct::stats();
  uint64_t evicted = ct::evicted_now(s1);
  printf("evicted in %.2f s: %llu pages out (%llu compressed into %llu KiB, %llu zero, %llu same-filled)\n", ct::now_s() - t0,
         (unsigned long long)evicted, (unsigned long long)s1.compressed_pages, (unsigned long long)(s1.compr_bytes >> 10),
         (unsigned long long)s1.zero_pages, (unsigned long long)s1.same_pages);
  REQUIRE(s1.evictions > s0.evictions && s1.zero_pages > 0 && s1.same_pages > 0,
          "evictions did not cover the compressed, zero and same-filled states");

  tmc_test_step("fork+exec and posix_spawn of /bin/true with the data set compressed");
  double fe1 = median3(time_fork_exec), ps1 = median3(time_posix_spawn);
  CHECK(fe1 >= 0 && ps1 >= 0, "fork+exec or posix_spawn of /bin/true failed with the data set compressed");
  printf("%zu MiB heap, %llu MiB compressed: fork+exec %.2f ms (empty heap %.2f), posix_spawn %.2f ms (empty heap %.2f)\n",
         mib, (unsigned long long)(s1.compr_bytes >> 20), fe1, fe0, ps1, ps0);

  tmc_test_step("first child verifies the pre-fork contents while the parent overwrites its copy");
  REQUIRE(wait_mostly_evicted(25), "the data set was not evicted again");
  evicted = ct::evicted_now(ct::stats());
  int fd = -1;
  double fork_ms = 0;
  uint64_t restored = ct::stats().fork_restored_pages;
  pid_t c1 = fork_verifier(1, &fd, &fork_ms);
  restored = ct::stats().fork_restored_pages - restored;
  printf("fork with %llu pages evicted took %.2f ms\n", (unsigned long long)evicted, fork_ms);
  tmc_stats p0 = ct::stats();
  fill_all(2);
  check_child("first child", c1, fd, evicted, restored);
  size_t bad = verify_all("parent after the first fork", 2, 1);
  tmc_stats p1 = ct::stats();
  REQUIRE(p1.faults > p0.faults, "the parent's overwrite served no faults");
  CHECK(bad == 0, "%zu pages of the parent's new contents are wrong", bad);

  tmc_test_step("second child (a later fork) verifies the parent's new contents");
  REQUIRE(wait_mostly_evicted(25), "the new contents were not evicted");
  evicted = ct::evicted_now(ct::stats());
  restored = ct::stats().fork_restored_pages;
  pid_t c2 = fork_verifier(2, &fd, &fork_ms);
  restored = ct::stats().fork_restored_pages - restored;
  printf("second fork with %llu pages evicted took %.2f ms\n", (unsigned long long)evicted, fork_ms);
  bad = verify_all("parent during the second child", 2, 1);
  CHECK(bad == 0, "%zu pages of the parent changed while the second child ran", bad);
  check_child("second child", c2, fd, evicted, restored);

  tmc_test_step("16 forks in a row, each child reading an evicted 1 MiB buffer back exactly");
  {
    constexpr size_t kSmallPages = 256;
    void* mem = nullptr;
    REQUIRE(posix_memalign(&mem, kPage, kSmallPages * kPage) == 0, "posix_memalign");
    char* small = static_cast<char*>(mem);
    int forks_ok = 0, evicted_forks = 0;
    for (int f = 0; f < 16; ++f) {
      for (size_t i = 0; i < kSmallPages; ++i) ct::fill_text(small + i * kPage, kPage, 7000 + f * 1000 + i);
      long present = ct::wait_evicted(small, kSmallPages * kPage, kSmallPages / 10, 5);
      evicted_forks += present >= 0 && present <= static_cast<long>(kSmallPages / 10);
      pid_t pid = fork();
      REQUIRE(pid >= 0, "fork: %s", strerror(errno));
      if (pid == 0) {
        char want[kPage];
        size_t bad = 0, zero = 0;
        for (size_t i = 0; i < kSmallPages; ++i) {
          ct::fill_text(want, kPage, 7000 + f * 1000 + i);
          if (memcmp(small + i * kPage, want, kPage) != 0) {
            ++bad;
            zero += ct::all_zero(small + i * kPage, kPage);
          }
        }
        if (bad) fprintf(stderr, "fork %d child: %zu of %zu pages wrong (%zu read all zero)\n", f, bad, kSmallPages, zero);
        _exit(bad ? 1 : 0);
      }
      int st = wait_child(pid, 10, "a short-lived child");
      bool ok = st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
      CHECK(ok, "fork %d of 16: the child did not read its parent's memory back (status 0x%x)", f, st);
      if (!ok) break;
      ++forks_ok;
    }
    printf("%d of 16 forks good, %d of them with the buffer evicted at fork time\n", forks_ok, evicted_forks);
    REQUIRE(evicted_forks > 0, "the buffer was never evicted at fork time");
    free(small);
  }

  tmc_test_step("a child that lives on compresses its own new data (its reclaimer takes over)");
  {
    // Three rounds of 16 MiB written and left to be evicted: far more than the staging
    // ring holds, so the child's reclaimer must keep evicting, not only its first batches.
    constexpr size_t kChildPages = 4096;
    constexpr int kRounds = 3;
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
      void* mem = nullptr;
      if (posix_memalign(&mem, kPage, kChildPages * kPage) != 0) _exit(2);
      char* data = static_cast<char*>(mem);
      tmc_stats before = ct::stats();
      int code = 0;
      for (int round = 0; round < kRounds && code == 0; ++round) {
        for (size_t i = 0; i < kChildPages; ++i) ct::fill_text(data + i * kPage, kPage, 900000 + round * kChildPages + i);
        long present = ct::wait_evicted(data, kChildPages * kPage, kChildPages / 10, 20);
        char want[kPage];
        size_t bad = 0;
        for (size_t i = 0; i < kChildPages; ++i) {
          ct::fill_text(want, kPage, 900000 + round * kChildPages + i);
          bad += memcmp(data + i * kPage, want, kPage) != 0;
        }
        tmc_stats now = ct::stats();
        fprintf(stderr, "child, round %d: %ld of %zu pages still resident after waiting, %zu pages wrong; %llu "
                "evictions and %llu pool pages recycled in the child so far\n", round + 1, present, kChildPages, bad,
                (unsigned long long)(now.evictions - before.evictions),
                (unsigned long long)(now.pool_recycled_pages - before.pool_recycled_pages));
        if (bad != 0) code = 1;
        else if (present < 0 || present > static_cast<long>(kChildPages / 10)) code = 3;
      }
      _exit(code);
    }
    int st = wait_child(pid, 90, "the long-lived child");
    CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) != 1, "the long-lived child read its own data back wrong");
    CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) != 3, "the long-lived child's new data was not evicted in 20 s");
    CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the long-lived child failed (status 0x%x)", st);
  }

  ct::print_stats("compress_fork", ct::stats());
  return tmc_test_finish("compress_fork");
}
