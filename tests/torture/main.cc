// torture: a randomised, seeded torture test of the heap under libtmc (or any allocator).
//
//   LD_PRELOAD=build/libtmc.so TMC_COLD_AGE=0 build/tests/torture/torture --seconds 20
//   torture --seed 1234 --hazards all,-nss      replays seed 1234 without name lookups
//   torture --list-hazards
//
// Several worker threads allocate, write, read, verify, free, realloc and copy buffers of
// 8 B .. 4 MiB, pass them to system calls, madvise parts of them, look up names, use stdio and
// fork children that check what they inherited, while short-lived threads come and go; every
// byte is checked against a model outside the heap (torture.h). The seed is printed first;
// the same seed replays the same operations on each thread (the interleaving is the
// scheduler's). Exit status: 0 pass, 1 a mismatch or failed check (each says which buffer,
// offset, expected and found bytes, and the buffer's history), 2 usage, 3 a hang (the
// watchdog says what each thread was doing), 77 libtmc is loaded but cannot compress here.
// The last line is the summary: seed, seconds, operations, bytes verified, forks, children
// verified, libtmc's statistics and the result.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "torture.h"

namespace tt {

const HazardInfo kHazards[] = {
    {kIo, "io", "heap buffers through pipes, socketpairs (send/recv, sendmsg/recvmsg), process_vm_readv/writev, pread/pwrite"},
    {kMadvise, "madvise", "MADV_DONTNEED (reads zero) and MADV_FREE (old or zero) through libc's madvise"},
    {kRawMadvise, "rawmadvise", "the same through syscall(SYS_madvise), which libtmc does not see"},
    {kFork, "fork", "fork from any thread; the child checks every buffer not mid-update"},
    {kForkLive, "forklive", "children that allocate, write and fork again before checking"},
    {kExec, "exec", "fork+exec of /bin/true and posix_spawn"},
    {kNss, "nss", "getpwuid, getgrgid (and their _r forms), getpwnam_r, getaddrinfo(\"localhost\")"},
    {kStdio, "stdio", "fopen/fprintf/fflush/fclose of temporary files from several threads, a logger thread, fflush(NULL)"},
    {kCloseFds, "closefds", "children that close_range(3, ~0U, 0) or closefrom(3) before checking"},
    {kThreadExit, "threadexit", "children whose last thread ends with pthread_exit (must exit 0)"},
    {kChurn, "churn", "short-lived threads that allocate, check, hand buffers on and end"},
};
const int kNumHazards = static_cast<int>(sizeof(kHazards) / sizeof(kHazards[0]));

Options g_opt;
double g_start_s;
char g_tmpdir[128];

uint64_t failures_now() {
  Counters& c = *g_count;
  return c.mismatches + c.calloc_dirty + c.io_errors + c.nss_errors + c.stdio_errors + c.child_failures + c.child_hangs +
         c.other_failures;
}

namespace {

uint32_t all_hazards() {
  uint32_t all = 0;
  for (const HazardInfo& h : kHazards) all |= h.bit;
  return all;
}

// "all", "none", "io,fork", "all,-nss,-stdio"; false on an unknown name.
bool parse_hazards(const char* spec, uint32_t* out) {
  char buf[512];
  snprintf(buf, sizeof(buf), "%s", spec);
  uint32_t set = buf[0] == '-' ? all_hazards() : 0;
  for (char* save = nullptr, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(nullptr, ",", &save)) {
    bool remove = tok[0] == '-';
    const char* name = remove ? tok + 1 : tok;
    uint32_t bits = 0;
    if (strcmp(name, "all") == 0) bits = all_hazards();
    else if (strcmp(name, "none") == 0) bits = 0, set = remove ? set : 0;
    else {
      for (const HazardInfo& h : kHazards)
        if (strcmp(name, h.name) == 0) bits = h.bit;
      if (bits == 0) return false;
    }
    set = remove ? set & ~bits : set | bits;
  }
  *out = set;
  return true;
}

void hazard_string(uint32_t set, char* out, size_t n) {
  if (set == all_hazards()) {
    snprintf(out, n, "all");
    return;
  }
  size_t len = 0;
  out[0] = 0;
  for (const HazardInfo& h : kHazards)
    if (set & h.bit) len += static_cast<size_t>(snprintf(out + len, n - len, "%s%s", len ? "," : "", h.name));
  if (len == 0) snprintf(out, n, "none");
}

int usage(const char* argv0, int code) {
  FILE* f = code ? stderr : stdout;
  fprintf(f,
          "usage: %s [--seed N] [--seconds S] [--threads N] [--hazards SPEC] [--watchdog S] [--child-timeout S]\n"
          "          [--allow-idle] [--list-hazards]\n"
          "  --seed N          replay a run (default: random, printed first)\n"
          "  --seconds S       how long the threads run (default 10)\n"
          "  --threads N       worker threads, 1..16 (default 4)\n"
          "  --hazards SPEC    which hazard classes: all (default), none, a list (io,fork), or all\n"
          "                    minus some (all,-nss,-stdio); --list-hazards names them\n"
          "  --watchdog S      a thread in one operation longer than this is a hang (default 90)\n"
          "  --child-timeout S a forked child not done in this long is a hang (default 30; a child\n"
          "                    that lives on and forks again gets twice as long)\n"
          "  --allow-idle      do not require libtmc to have evicted and faulted pages\n",
          argv0);
  return code;
}

using IsActiveFn = int (*)();

// libtmc is loaded and may compress: then evictions and faults are required.
bool engine_expected() {
  if (ct::stats_fn() == nullptr) return false;
  auto active = reinterpret_cast<IsActiveFn>(dlsym(RTLD_DEFAULT, "tmc_is_active"));
  if (active == nullptr || active() == 0) return false;
  const char* compress = getenv("TMC_COMPRESS");
  return compress == nullptr || strcmp(compress, "0") != 0;
}

// Pages of the workers' buffers not resident now (evicted, under libtmc).
size_t buffer_pages_out(size_t* total) {
  size_t out = 0;
  *total = 0;
  for (int t = 0; t < g_opt.threads; ++t)
    for (int i = 0; i < g_workers[t].set.n; ++i) {
      const Slot& s = g_workers[t].set.slots[i];
      size_t first = first_page_off(s), pages = whole_pages(s);
      unsigned char v[256];
      for (size_t k = 0; k < pages; k += sizeof(v)) {
        size_t cnt = pages - k < sizeof(v) ? pages - k : sizeof(v);
        if (mincore(s.buf + first + k * kPage, cnt * kPage, v) != 0) continue;
        for (size_t j = 0; j < cnt; ++j) out += (v[j] & 1) == 0;
      }
      *total += pages;
    }
  return out;
}

void verify_all_workers(const char* when) {
  for (int t = 0; t < g_opt.threads; ++t)
    for (int i = 0; i < g_workers[t].set.n; ++i) verify_slot(g_workers[t].set, i, when, true);
}

void progress(double t) {
  tmc_stats s = ct::stats();
  printf("torture: +%.0fs ops=%llu forks=%llu children_verified=%llu evictions=%llu faults=%llu held_faults=%llu "
         "rss=%lluMiB failures=%llu\n",
         t, (unsigned long long)g_count->ops.load(), (unsigned long long)g_count->forks.load(),
         (unsigned long long)g_child->verified.load(), (unsigned long long)s.evictions, (unsigned long long)s.faults,
         (unsigned long long)s.held_faults, (unsigned long long)(s.rss_bytes >> 20),
         (unsigned long long)(failures_now() + g_child->mismatches.load()));
}

// Removes the run's temporary directory and what is left in it.
void remove_tmpdir() {
  int dir = open(g_tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    for (int t = 0; t < g_opt.threads; ++t) {
      char name[64];
      snprintf(name, sizeof(name), "file-%d", t);
      unlinkat(dir, name, 0);
      snprintf(name, sizeof(name), "journal-%d", t);
      unlinkat(dir, name, 0);
    }
    close(dir);
  }
  if (rmdir(g_tmpdir) != 0) say("torture: could not remove %s: %s\n", g_tmpdir, strerror(errno));
}

}  // namespace

void print_summary(const char* result, bool with_stats) {
  static std::atomic<int> printed{0};
  if (printed.load()) return;
  tmc_stats s;
  if (with_stats) s = ct::stats();
  else memset(&s, 0xff, sizeof(s));
  if (printed.exchange(1)) return;
  Counters& c = *g_count;
  char hz[256];
  hazard_string(g_opt.hazards, hz, sizeof(hz));
  char line[2048];
  int n = snprintf(
      line, sizeof(line),
      "torture: counts: writes=%llu allocs=%llu callocs=%llu reallocs=%llu frees=%llu copies=%llu verifies=%llu "
      "io_pipe=%llu io_stream=%llu io_dgram=%llu io_msg=%llu io_vm_read=%llu io_vm_write=%llu io_file=%llu "
      "madv_dontneed=%llu madv_free=%llu raw_dontneed=%llu raw_free=%llu lazy_zero=%llu lazy_kept=%llu "
      "forks_full=%llu forks_sample=%llu forks_live=%llu forks_closefds=%llu forks_threadexit=%llu execs=%llu spawns=%llu nss=%llu stdio_files=%llu "
      "stdio_flush_all=%llu churn_threads=%llu handoffs=%llu child_buffers=%llu child_skipped_busy=%llu "
      "zero_pages=%lld same_pages=%lld fault_around_pages=%lld busy_skips=%lld pool_full=%lld rss=%lldMiB\n",
      (unsigned long long)c.writes, (unsigned long long)c.allocs, (unsigned long long)c.callocs,
      (unsigned long long)c.reallocs, (unsigned long long)c.frees, (unsigned long long)c.copies,
      (unsigned long long)c.verifies, (unsigned long long)c.io_pipe, (unsigned long long)c.io_stream,
      (unsigned long long)c.io_dgram, (unsigned long long)c.io_msg, (unsigned long long)c.io_vm_read,
      (unsigned long long)c.io_vm_write, (unsigned long long)c.io_file, (unsigned long long)c.madv_dontneed,
      (unsigned long long)c.madv_free, (unsigned long long)c.raw_dontneed, (unsigned long long)c.raw_free,
      (unsigned long long)c.lazy_zero, (unsigned long long)c.lazy_kept, (unsigned long long)c.fork_verify,
      (unsigned long long)c.fork_sample, (unsigned long long)c.fork_live,
      (unsigned long long)c.fork_closefds, (unsigned long long)c.fork_threadexit, (unsigned long long)c.execs,
      (unsigned long long)c.spawns, (unsigned long long)c.nss, (unsigned long long)c.stdio_files,
      (unsigned long long)c.stdio_flush_all, (unsigned long long)c.churn_threads, (unsigned long long)c.handoffs,
      (unsigned long long)g_child->buffers, (unsigned long long)g_child->skipped_busy, (long long)s.zero_pages,
      (long long)s.same_pages, (long long)s.fault_around_pages, (long long)s.busy_skips, (long long)s.pool_full,
      with_stats ? (long long)(s.rss_bytes >> 20) : -1LL);
  if (write(1, line, static_cast<size_t>(n)) < 0) {}
  n = snprintf(line, sizeof(line),
               "torture: seed=%llu seconds=%.1f threads=%d hazards=%s ops=%llu bytes_verified=%llu forks=%llu "
               "children_verified=%llu child_bytes_verified=%llu child_faults=%llu child_max_s=%.1f evictions=%lld faults=%lld "
               "compressed_pages=%lld held_faults=%lld self_faults=%lld mismatches=%llu failures=%llu result=%s\n",
               (unsigned long long)g_opt.seed, now_s() - g_start_s, g_opt.threads, hz, (unsigned long long)c.ops,
               (unsigned long long)c.bytes_verified, (unsigned long long)c.forks,
               (unsigned long long)g_child->verified, (unsigned long long)g_child->bytes,
               (unsigned long long)g_child->faults, static_cast<double>(c.child_max_ms) / 1000, (long long)s.evictions, (long long)s.faults,
               (long long)s.compressed_pages, (long long)s.held_faults, (long long)s.self_faults, (unsigned long long)(c.mismatches + g_child->mismatches),
               (unsigned long long)failures_now(), result);
  if (write(1, line, static_cast<size_t>(n)) < 0) {}
}

}  // namespace tt

int main(int argc, char** argv) {
  using namespace tt;
  setvbuf(stdout, nullptr, _IOLBF, 0);
  g_opt.hazards = all_hazards();
  bool seeded = false;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return usage(argv[0], 0);
    if (strcmp(a, "--list-hazards") == 0) {
      for (const HazardInfo& h : kHazards) printf("%-11s %s\n", h.name, h.what);
      return 0;
    }
    if (strcmp(a, "--allow-idle") == 0) {
      g_opt.allow_idle = true;
      continue;
    }
    if (v == nullptr) return usage(argv[0], kExitUsage);
    ++i;
    if (strcmp(a, "--seed") == 0) g_opt.seed = strtoull(v, nullptr, 0), seeded = true;
    else if (strcmp(a, "--seconds") == 0) g_opt.seconds = atof(v);
    else if (strcmp(a, "--threads") == 0) g_opt.threads = atoi(v);
    else if (strcmp(a, "--watchdog") == 0) g_opt.watchdog_s = atof(v);
    else if (strcmp(a, "--child-timeout") == 0) g_opt.child_timeout_s = atof(v);
    else if (strcmp(a, "--hazards") == 0) {
      if (!parse_hazards(v, &g_opt.hazards)) {
        fprintf(stderr, "torture: unknown hazard class in '%s' (--list-hazards names them)\n", v);
        return kExitUsage;
      }
    } else {
      return usage(argv[0], kExitUsage);
    }
  }
  if (g_opt.threads < 1 || g_opt.threads > 16 || g_opt.seconds <= 0 || g_opt.watchdog_s <= 2 * g_opt.child_timeout_s) {
    fprintf(stderr, "torture: need 1..16 threads, a positive time, and --watchdog above twice --child-timeout\n");
    return kExitUsage;
  }
  if (!seeded && getrandom(&g_opt.seed, sizeof(g_opt.seed), 0) != sizeof(g_opt.seed))
    g_opt.seed = static_cast<uint64_t>(time(nullptr)) ^ (static_cast<uint64_t>(getpid()) << 32);
  g_opt.seed &= (1ull << 53) - 1;  // printable and passable anywhere as a plain number

  char hz[256];
  hazard_string(g_opt.hazards, hz, sizeof(hz));
  printf("torture: seed=%llu seconds=%g threads=%d hazards=%s watchdog=%gs child-timeout=%gs\n",
         (unsigned long long)g_opt.seed, g_opt.seconds, g_opt.threads, hz, g_opt.watchdog_s, g_opt.child_timeout_s);
  printf("torture: replay with: %s --seed %llu --seconds %g --threads %d --hazards %s\n", argv[0],
         (unsigned long long)g_opt.seed, g_opt.seconds, g_opt.threads, hz);
  bool engine = engine_expected();
  if (ct::stats_fn() != nullptr) ct::require_engine_environment("torture");  // 77 without a full userfaultfd
  printf("torture: libtmc %s", ct::stats_fn() == nullptr ? "not loaded (a plain run: the harness checks itself)"
                               : engine ? "loaded, compressing" : "loaded, not compressing");
  for (char** e = environ; *e; ++e)
    if (strncmp(*e, "TMC_", 4) == 0) printf(" %s", *e);
  printf("\n");

  g_count = new (map_anon(sizeof(Counters))) Counters();
  void* shared = mmap(nullptr, sizeof(ChildTotals), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) {
    perror("torture: mmap");
    return kExitFail;
  }
  g_child = new (shared) ChildTotals();
  g_start_s = now_s();
  snprintf(g_tmpdir, sizeof(g_tmpdir), "%s/tmc-torture-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(g_tmpdir) == nullptr) {
    perror("torture: mkdtemp");
    return kExitFail;
  }
  forks_init();
  g_workers = static_cast<Worker*>(map_anon(sizeof(Worker) * static_cast<size_t>(g_opt.threads)));
  for (int t = 0; t < g_opt.threads; ++t) worker_setup(*new (&g_workers[t]) Worker(), t);

  ThreadInfo* ti = thread_register("main");
  watchdog_start();
  reaper_start();
  g_workers_forking.store(g_opt.threads);
  for (int t = 0; t < g_opt.threads; ++t)
    if (pthread_create(&g_workers[t].thread, nullptr, worker_main, &g_workers[t]) != 0) {
      perror("torture: pthread_create");
      return kExitFail;
    }
  pthread_t churn{}, logger{};
  if ((on(kChurn) && pthread_create(&churn, nullptr, churn_main, nullptr) != 0) ||
      (on(kStdio) && pthread_create(&logger, nullptr, logger_main, nullptr) != 0)) {
    perror("torture: pthread_create");
    return kExitFail;
  }

  double next_progress = g_start_s + 5;
  while (now_s() < g_start_s + g_opt.seconds) {
    set_op(ti, "waiting for the end of the run");
    timespec ts{0, 50 * 1000 * 1000};
    nanosleep(&ts, nullptr);
    if (now_s() >= next_progress) {
      set_op(ti, "progress line (reads libtmc's statistics)");
      progress(now_s() - g_start_s);
      next_progress += 5;
    }
  }
  g_stop.store(true);
  set_op(ti, "joining the threads");
  for (int t = 0; t < g_opt.threads; ++t) pthread_join(g_workers[t].thread, nullptr);
  if (on(kChurn)) pthread_join(churn, nullptr);
  if (on(kStdio)) pthread_join(logger, nullptr);
  run_rare_ops_not_run(ti);
  reaper_stop();

  set_op(ti, "final check");
  verify_all_workers("at the final check");
  if (engine) {
    // Once more after the reclaimer had a moment to evict the buffers as they are now.
    set_op(ti, "waiting for the final eviction");
    size_t total = 0, out = 0;
    for (double until = now_s() + 5; now_s() < until;) {
      out = buffer_pages_out(&total);
      if (out * 2 >= total) break;
      timespec ts{0, 50 * 1000 * 1000};
      nanosleep(&ts, nullptr);
    }
    printf("torture: %zu of %zu pages of the buffers evicted before the last check\n", out, total);
    set_op(ti, "check after the final eviction");
    verify_all_workers("after the final eviction");
  }
  set_op(ti, "freeing everything");
  for (int t = 0; t < g_opt.threads; ++t) worker_teardown(g_workers[t]);
  watchdog_stop();
  remove_tmpdir();

  // A run that did not do what it was asked proves nothing: each enabled class must have run,
  // and under libtmc pages must have been evicted and faulted back.
  Counters& c = *g_count;
  struct {
    Hazard h;
    uint64_t count;
  } ran[] = {
      {kIo, c.io_pipe + c.io_stream + c.io_dgram + c.io_msg + c.io_vm_read + c.io_vm_write + c.io_file},
      {kMadvise, c.madv_dontneed + c.madv_free},
      {kRawMadvise, c.raw_dontneed + c.raw_free},
      {kFork, c.fork_verify + c.fork_sample},
      {kForkLive, c.fork_live},
      {kExec, c.execs + c.spawns},
      {kNss, c.nss},
      {kStdio, c.stdio_files},
      {kCloseFds, c.fork_closefds},
      {kThreadExit, c.fork_threadexit},
      {kChurn, c.churn_threads},
  };
  for (const auto& r : ran)
    if (on(r.h) && r.count == 0)
      for (const HazardInfo& h : kHazards)
        if (h.bit == r.h) fail(c.other_failures, "hazard class '%s' is on but never ran: this run says nothing about it", h.name);
  if ((on(kFork) || on(kForkLive) || on(kCloseFds) || on(kThreadExit)) && g_child->verified == 0)
    fail(c.other_failures, "no forked child finished its check");
  tmc_stats s = ct::stats();
  if (engine && !g_opt.allow_idle) {
    if (s.evictions == 0) fail(c.other_failures, "libtmc evicted no page: the run says nothing about compression");
    if (s.faults == 0) fail(c.other_failures, "no evicted page was faulted back: the run says nothing about faults");
  }
  if (s.self_faults != 0)
    fail(c.other_failures, "libtmc's own threads took %llu faults on managed memory (self_faults)",
         (unsigned long long)s.self_faults);
  bool failed = failures_now() + g_child->mismatches != 0;
  print_summary(failed ? "FAIL" : "PASS", true);
  return failed ? kExitFail : kExitPass;
}
