// Invariant 1, no lost write: the integrity stress test. Four threads each own 48 buffers
// (64 B .. 64 KiB, plus 8 of 64 KiB .. 1 MiB) and, for a bounded time (STRESS_SECONDS,
// default 12), at random: write text records or random bytes at random offsets, verify a
// buffer, free and reallocate it (malloc or calloc, filled with text, zeros, one repeated
// word or random bytes), realloc it larger or smaller, memcpy between buffers, and pass
// buffers to system calls: write() into a pipe and read() back into another buffer, and
// pwrite()/pread() through a temporary file (faults taken inside the kernel). Every change
// is applied to a model, a copy of each buffer in memory mapped outside the heap (never
// evicted), and every byte is verified against it periodically and at the end, while the
// reclaimer evicts as hard as it can (TMC_COLD_AGE=0; the .hold variant instead keeps RSS
// at a small TMC_TARGET, so that faults are also held for room).
// Twice in the middle the threads stop at a barrier and the process forks: the child
// verifies every buffer against the model (the parent's memory at fork time, compressed
// pages included) while the parent goes on changing its own; a child that hangs is killed
// and reported. With STRESS_SEEDS=N (the .dedup variant) every fill draws its content from N
// seeds only, so whole pages repeat across buffers and threads and pool dedup shares their
// blobs while the threads write, free, copy and fork around them. A watchdog reports any libtmc thread found blocked in a userfaultfd fault
// (libtmc faulting on itself, invariant 4; the engine's own count, stats self_faults, must
// stay 0 too) and dumps all threads if progress stops.
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <dirent.h>

#include <atomic>
#include <new>

#include "compress_test.h"

namespace {

using ct::kPage;

constexpr int kThreads = 4;
constexpr int kSlots = 48;
constexpr int kLargeSlots = 8;  // slots [0, kLargeSlots) are the large ones
constexpr size_t kSmallMin = 64, kSmallMax = 64 << 10;
constexpr size_t kLargeMin = 64 << 10, kLargeMax = 1 << 20;
constexpr size_t kIoMax = 48 << 10;  // below the pipe's 64 KiB capacity
constexpr int kMaxReports = 20;
uint64_t g_seeds = 0;  // STRESS_SEEDS: fills draw from this many seeds (0: any)

struct Slot {
  char* buf = nullptr;
  size_t size = 0;
  char* model = nullptr;  // capacity: the class maximum
};

struct Counters {
  std::atomic<uint64_t> ops{0}, writes{0}, verifies{0}, reallocs{0}, frees{0}, copies{0}, pipe_ios{0}, file_ios{0},
      bytes_verified{0}, bad_bytes{0}, bad_buffers{0}, calloc_dirty{0}, io_errors{0};
};

struct Worker {
  int id = 0;
  Slot slots[kSlots];
  ct::Rng rng{0};
  int pipe_fd[2] = {-1, -1};
  int file_fd = -1;
  pthread_t thread{};
};

Worker* g_workers;  // in mmap'd memory, like the models
Counters* g_count;
std::atomic<bool> g_stop{false};
std::atomic<int> g_pause{0};    // the main thread wants the workers stopped
std::atomic<int> g_paused{0};   // workers stopped at the barrier
std::atomic<uint64_t> g_progress{0};
std::atomic<int> g_reports{0};
std::atomic<uint64_t> g_self_faults{0};  // samples of a libtmc thread blocked in a fault

void* map_private(size_t n) {
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(p != MAP_FAILED, "mmap of %zu bytes for the model", n);
  return p;
}

size_t slot_max(int s) { return s < kLargeSlots ? kLargeMax : kSmallMax; }

size_t pick_size(Worker& w, int s) {
  return s < kLargeSlots ? w.rng.size_between(kLargeMin, kLargeMax) : w.rng.size_between(kSmallMin, kSmallMax);
}

bool verify_slot(Worker& w, int s, const char* when) {
  Slot& sl = w.slots[s];
  g_count->verifies++;
  g_count->bytes_verified += sl.size;
  if (memcmp(sl.buf, sl.model, sl.size) == 0) return true;
  size_t bad = 0;
  for (size_t i = 0; i < sl.size; ++i) bad += sl.buf[i] != sl.model[i];
  g_count->bad_bytes += bad;
  g_count->bad_buffers++;
  if (g_reports.fetch_add(1) < kMaxReports) {
    char what[128];
    snprintf(what, sizeof(what), "thread %d buffer %d (%zu bytes) %s", w.id, s, sl.size, when);
    ct::report_mismatch(what, sl.buf, sl.buf, sl.model, sl.size);
  }
  // Resynchronise the model so that one lost page is reported once, not at every verify.
  memcpy(sl.model, sl.buf, sl.size);
  return false;
}

// New contents for [off, off+n) of a slot, in both the buffer and the model.
void fill_both(Worker& w, int s, size_t off, size_t n, ct::Fill f) {
  Slot& sl = w.slots[s];
  uint64_t seed = g_seeds != 0 ? w.rng.below(g_seeds) : w.rng.next();
  ct::fill(f, sl.model + off, n, seed);
  memcpy(sl.buf + off, sl.model + off, n);
}

ct::Fill pick_fill(Worker& w) {
  uint64_t r = w.rng.below(20);
  if (r < 14) return ct::Fill::kText;
  if (r < 16) return ct::Fill::kZero;
  if (r < 18) return ct::Fill::kSame;
  return ct::Fill::kRandom;  // incompressible: the engine must put such pages back
}

void allocate(Worker& w, int s) {
  Slot& sl = w.slots[s];
  sl.size = pick_size(w, s);
  if (w.rng.below(4) == 0) {
    sl.buf = static_cast<char*>(calloc(1, sl.size));
    REQUIRE(sl.buf != nullptr, "calloc(%zu)", sl.size);
    if (!ct::all_zero(sl.buf, sl.size)) {
      g_count->calloc_dirty++;
      if (g_reports.fetch_add(1) < kMaxReports)
        fprintf(stderr, "MISMATCH thread %d buffer %d: calloc(%zu) returned non-zero memory\n", w.id, s, sl.size);
    }
    memset(sl.model, 0, sl.size);
    // Some text on top, so that calloc'd buffers are not all zero.
    size_t n = sl.size / 2;
    fill_both(w, s, 0, n, ct::Fill::kText);
  } else {
    sl.buf = static_cast<char*>(malloc(sl.size));
    REQUIRE(sl.buf != nullptr, "malloc(%zu)", sl.size);
    fill_both(w, s, 0, sl.size, pick_fill(w));
  }
}

void op_write(Worker& w) {
  int s = static_cast<int>(w.rng.below(kSlots));
  Slot& sl = w.slots[s];
  bool random = w.rng.below(8) == 0;
  size_t n = random ? 1 + w.rng.below(64) : 1 + w.rng.below(sl.size < 2048 ? sl.size : 2048);
  if (n > sl.size) n = sl.size;
  size_t off = w.rng.below(sl.size - n + 1);
  // Single-byte stores too: a write of one byte into an evicted page must not be lost.
  if (n <= 8) {
    for (size_t i = 0; i < n; ++i) {
      char c = static_cast<char>(w.rng.next());
      sl.model[off + i] = c;
      sl.buf[off + i] = c;
    }
  } else {
    fill_both(w, s, off, n, random ? ct::Fill::kRandom : ct::Fill::kText);
  }
  g_count->writes++;
}

void op_realloc(Worker& w) {
  int s = static_cast<int>(w.rng.below(kSlots));
  Slot& sl = w.slots[s];
  size_t n = pick_size(w, s);
  char* q = static_cast<char*>(realloc(sl.buf, n));
  REQUIRE(q != nullptr, "realloc(%zu)", n);
  size_t keep = n < sl.size ? n : sl.size;
  sl.buf = q;
  size_t old = sl.size;
  sl.size = keep;
  verify_slot(w, s, "after realloc (the kept part)");
  sl.size = n;
  if (n > old) fill_both(w, s, old, n - old, ct::Fill::kText);
  g_count->reallocs++;
}

void op_free(Worker& w) {
  int s = static_cast<int>(w.rng.below(kSlots));
  verify_slot(w, s, "before free");
  free(w.slots[s].buf);
  allocate(w, s);
  g_count->frees++;
}

void op_copy(Worker& w) {
  int a = static_cast<int>(w.rng.below(kSlots)), b = static_cast<int>(w.rng.below(kSlots));
  Slot& sa = w.slots[a];
  Slot& sb = w.slots[b];
  size_t lim = sa.size < sb.size ? sa.size : sb.size;
  size_t n = 1 + w.rng.below(lim);
  size_t oa = w.rng.below(sa.size - n + 1), ob = w.rng.below(sb.size - n + 1);
  memmove(sb.buf + ob, sa.buf + oa, n);
  memmove(sb.model + ob, sa.model + oa, n);
  g_count->copies++;
}

// Picks two slots and a length that fits both and the I/O limit.
void pick_io(Worker& w, int* a, int* b, size_t* oa, size_t* ob, size_t* n) {
  *a = static_cast<int>(w.rng.below(kSlots));
  *b = static_cast<int>(w.rng.below(kSlots));
  size_t lim = w.slots[*a].size < w.slots[*b].size ? w.slots[*a].size : w.slots[*b].size;
  if (lim > kIoMax) lim = kIoMax;
  *n = 1 + w.rng.below(lim);
  *oa = w.rng.below(w.slots[*a].size - *n + 1);
  *ob = w.rng.below(w.slots[*b].size - *n + 1);
}

bool io_all(bool is_write, int fd, char* p, size_t n, off_t off, bool positioned) {
  size_t done = 0;
  while (done < n) {
    ssize_t r;
    if (is_write) r = positioned ? pwrite(fd, p + done, n - done, off + static_cast<off_t>(done)) : write(fd, p + done, n - done);
    else r = positioned ? pread(fd, p + done, n - done, off + static_cast<off_t>(done)) : read(fd, p + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int err = r < 0 ? errno : 0;
      g_count->io_errors++;
      if (g_reports.fetch_add(1) < kMaxReports)
        fprintf(stderr, "I/O ERROR %s of %zu bytes at %p: %s\n", is_write ? "write" : "read", n - done,
                static_cast<void*>(p + done), err ? strerror(err) : "end of file");
      return false;
    }
    done += static_cast<size_t>(r);
  }
  return true;
}

// The kernel reads buffer a (write into a pipe) and writes buffer b (read from it): faults
// on evicted pages taken in kernel mode.
void op_pipe(Worker& w) {
  int a, b;
  size_t oa, ob, n;
  pick_io(w, &a, &b, &oa, &ob, &n);
  if (!io_all(true, w.pipe_fd[1], w.slots[a].buf + oa, n, 0, false)) return;
  if (!io_all(false, w.pipe_fd[0], w.slots[b].buf + ob, n, 0, false)) return;
  memmove(w.slots[b].model + ob, w.slots[a].model + oa, n);
  g_count->pipe_ios++;
}

void op_file(Worker& w) {
  int a, b;
  size_t oa, ob, n;
  pick_io(w, &a, &b, &oa, &ob, &n);
  off_t off = static_cast<off_t>(w.rng.below(1 << 20));
  if (!io_all(true, w.file_fd, w.slots[a].buf + oa, n, off, true)) return;
  if (!io_all(false, w.file_fd, w.slots[b].buf + ob, n, off, true)) return;
  memmove(w.slots[b].model + ob, w.slots[a].model + oa, n);
  g_count->file_ios++;
}

void pause_point() {
  if (g_pause.load(std::memory_order_acquire) == 0) return;
  g_paused.fetch_add(1);
  while (g_pause.load(std::memory_order_acquire) != 0) ct::sleep_ms(1);
  g_paused.fetch_sub(1);
}

void* worker_main(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  uint64_t n = 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    pause_point();
    uint64_t r = w.rng.below(100);
    if (r < 40) op_write(w);
    else if (r < 52) verify_slot(w, static_cast<int>(w.rng.below(kSlots)), "at a random verify");
    else if (r < 60) op_free(w);
    else if (r < 68) op_realloc(w);
    else if (r < 80) op_copy(w);
    else if (r < 90) op_pipe(w);
    else op_file(w);
    g_count->ops++;
    g_progress.fetch_add(1, std::memory_order_relaxed);
    // Every 2000 operations the whole set is checked; now and then a pause lets the
    // reclaimer evict what was just touched.
    if (++n % 2000 == 0)
      for (int s = 0; s < kSlots; ++s) verify_slot(w, s, "at a periodic full check");
    if (n % 64 == 0) ct::sleep_ms(static_cast<double>(w.rng.below(3000)) / 1000.0);
  }
  return nullptr;
}

// --- watchdog --------------------------------------------------------------------------

bool read_small(const char* path, char* buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t r = read(fd, buf, n - 1);
  close(fd);
  if (r < 0) return false;
  buf[r] = 0;
  if (r > 0 && buf[r - 1] == '\n') buf[r - 1] = 0;
  return true;
}

// Calls f(tid, comm, state, wchan) for every thread of this process.
template <typename F>
void for_each_thread(F f) {
  DIR* d = opendir("/proc/self/task");
  if (!d) return;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char path[96], comm[64] = "", stat[512] = "", wchan[96] = "";
    snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
    read_small(path, comm, sizeof(comm));
    snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
    read_small(path, stat, sizeof(stat));
    snprintf(path, sizeof(path), "/proc/self/task/%s/wchan", e->d_name);
    read_small(path, wchan, sizeof(wchan));
    const char* close_paren = strrchr(stat, ')');
    char state = close_paren && close_paren[1] ? close_paren[2] : '?';
    f(e->d_name, comm, state, wchan);
  }
  closedir(d);
}

void dump_threads(const char* why) {
  fprintf(stderr, "%s; threads:\n", why);
  for_each_thread([](const char* tid, const char* comm, char state, const char* wchan) {
    fprintf(stderr, "  %s %-16s %c %s\n", tid, comm, state, wchan);
  });
  fflush(stderr);
}

std::atomic<bool> g_watch_stop{false};

void* watchdog_main(void*) {
  uint64_t last = 0;
  double last_change = ct::now_s();
  bool dumped = false;
  while (!g_watch_stop.load()) {
    ct::sleep_ms(50);
    for_each_thread([](const char*, const char* comm, char, const char* wchan) {
      if (strncmp(comm, "tmc-", 4) == 0 && strcmp(wchan, "handle_userfault") == 0) {
        if (g_self_faults.fetch_add(1) < 3) fprintf(stderr, "SELF FAULT: libtmc thread %s is blocked in a userfaultfd fault\n", comm);
      }
    });
    uint64_t now = g_progress.load();
    bool idle = g_pause.load() != 0 || g_stop.load();  // stopped on purpose
    if (now != last || idle) {
      last = now;
      last_change = ct::now_s();
    } else if (!dumped && ct::now_s() - last_change > 8) {
      dump_threads("NO PROGRESS for 8 s");
      dumped = true;
    }
  }
  return nullptr;
}

// --- fork ------------------------------------------------------------------------------

// Pages of the workers' buffers that are not resident now (mincore).
size_t live_pages_out() {
  size_t out = 0;
  for (int t = 0; t < kThreads; ++t)
    for (int sl = 0; sl < kSlots; ++sl) {
      const Slot& x = g_workers[t].slots[sl];
      if (x.buf == nullptr || x.size == 0) continue;
      uintptr_t first = reinterpret_cast<uintptr_t>(x.buf) & ~uintptr_t{4095};
      uintptr_t end = reinterpret_cast<uintptr_t>(x.buf) + x.size;
      size_t pages = (end - first + 4095) / 4096;
      unsigned char v[1024];
      for (size_t i = 0; i < pages; i += sizeof(v)) {
        size_t n = pages - i < sizeof(v) ? pages - i : sizeof(v);
        if (mincore(reinterpret_cast<void*>(first + i * 4096), n * 4096, v) != 0) continue;
        for (size_t k = 0; k < n; ++k) out += (v[k] & 1) == 0;
      }
    }
  return out;
}

// Stops the workers, forks a child that verifies everything against the model, resumes
// the workers; returns the child (its exit code is its count of bad buffers, capped).
pid_t fork_checker(int n) {
  g_pause.store(1);
  while (g_paused.load() != kThreads) ct::sleep_ms(1);
  // Give the reclaimer a moment so the child inherits evicted pages of the buffers it checks.
  // Under TMC_TARGET the last pass may have taken only freed memory, and the paused buffers
  // go once they are TMC_COLD_AGE old: wait for that, for a few seconds at most.
  ct::sleep_ms(300);
  for (double until = ct::now_s() + 5; live_pages_out() == 0 && ct::now_s() < until;) ct::sleep_ms(50);
  tmc_stats s = ct::stats();
  printf("fork %d: %llu pages evicted at fork time, %zu of them in the live buffers\n", n,
         (unsigned long long)ct::evicted_now(s), live_pages_out());
  fflush(stdout);
  pid_t pid = fork();
  REQUIRE(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    tmc_stats before = ct::stats();
    uint64_t bad = 0, bytes = 0;
    for (int t = 0; t < kThreads; ++t)
      for (int sl = 0; sl < kSlots; ++sl) {
        Slot& x = g_workers[t].slots[sl];
        bytes += x.size;
        if (memcmp(x.buf, x.model, x.size) != 0) {
          if (bad < 10) {
            char what[96];
            snprintf(what, sizeof(what), "fork %d child: thread %d buffer %d (%zu bytes)", n, t, sl, x.size);
            ct::report_mismatch(what, x.buf, x.buf, x.model, x.size);
          }
          ++bad;
        }
      }
    tmc_stats after = ct::stats();
    printf("fork %d child: verified %llu buffers (%llu KiB), %llu bad, %llu faults served in the child\n", n,
           (unsigned long long)(kThreads * kSlots), (unsigned long long)(bytes >> 10), (unsigned long long)bad,
           (unsigned long long)(after.faults - before.faults));
    fflush(stdout);
    // Exit code: 0 good, 1..100 bad buffers, 101: nothing was faulted in (vacuous).
    if (bad) _exit(bad > 100 ? 100 : static_cast<int>(bad));
    bool none_back = after.faults == before.faults && after.fault_around_pages == before.fault_around_pages;
    _exit(ct::evicted_now(before) > 0 && none_back ? 101 : 0);
  }
  g_pause.store(0);
  return pid;
}

void check_child(pid_t pid, int n) {
  double end = ct::now_s() + 10;  // the child verifies ~15 MiB: a second or two
  int st = 0;
  for (;;) {
    if (waitpid(pid, &st, WNOHANG) == pid) break;
    if (ct::now_s() > end) {
      char path[64], wchan[96] = "?";
      snprintf(path, sizeof(path), "/proc/%d/wchan", static_cast<int>(pid));
      read_small(path, wchan, sizeof(wchan));
      fprintf(stderr, "HUNG fork %d: child %d still running after 10 s, blocked in the kernel at '%s'; killing it\n", n,
              static_cast<int>(pid), wchan);
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      CHECK(false, "fork %d: the child hung", n);
      return;
    }
    ct::sleep_ms(20);
  }
  REQUIRE(!(WIFEXITED(st) && WEXITSTATUS(st) == 101), "fork %d: the child faulted nothing back; its check is vacuous", n);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork %d: the child found its memory differing from the parent's at fork "
        "time (status 0x%x: %d bad buffers)", n, st, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

}  // namespace

int main() {
  ct::require_engine_environment("compress_stress");
  double seconds = getenv("STRESS_SECONDS") ? atof(getenv("STRESS_SECONDS")) : 12.0;
  int forks = getenv("STRESS_FORKS") ? atoi(getenv("STRESS_FORKS")) : 2;
  g_seeds = getenv("STRESS_SEEDS") ? strtoull(getenv("STRESS_SEEDS"), nullptr, 10) : 0;

  g_workers = static_cast<Worker*>(map_private(sizeof(Worker) * kThreads));
  g_count = new (map_private(sizeof(Counters))) Counters();
  size_t model_bytes = kLargeSlots * kLargeMax + (kSlots - kLargeSlots) * kSmallMax;
  char tmpl[] = "/tmp/tmc-stress-XXXXXX";
  for (int t = 0; t < kThreads; ++t) {
    Worker& w = *new (&g_workers[t]) Worker();
    w.id = t;
    w.rng = ct::Rng(0x5eed + static_cast<uint64_t>(t));
    char* model = static_cast<char*>(map_private(model_bytes));
    for (int s = 0; s < kSlots; ++s) {
      w.slots[s].model = model;
      model += slot_max(s);
      allocate(w, s);
    }
    REQUIRE(pipe(w.pipe_fd) == 0, "pipe");
    memcpy(tmpl + sizeof(tmpl) - 7, "XXXXXX", 6);
    w.file_fd = mkstemp(tmpl);
    REQUIRE(w.file_fd >= 0, "mkstemp: %s", strerror(errno));
    unlink(tmpl);
  }
  size_t data_bytes = 0;
  for (int t = 0; t < kThreads; ++t)
    for (int s = 0; s < kSlots; ++s) data_bytes += g_workers[t].slots[s].size;

  tmc_test_step("initial data set: wait until most of it is evicted");
  tmc_stats s0 = ct::stats();
  uint64_t data_pages = data_bytes / kPage;
  bool evicted = ct::wait_stats([&](const tmc_stats& s) { return ct::evicted_now(s) >= data_pages * 6 / 10; }, 20);
  tmc_stats s1 = ct::stats();
  printf("%zu KiB in %d buffers; %llu pages evicted (%llu compressed, %llu zero, %llu same-filled)\n", data_bytes >> 10,
         kThreads * kSlots, (unsigned long long)ct::evicted_now(s1), (unsigned long long)s1.compressed_pages,
         (unsigned long long)s1.zero_pages, (unsigned long long)s1.same_pages);
  REQUIRE(evicted, "the initial data set was not evicted within 20 s");

  char title[96];
  snprintf(title, sizeof(title), "%d threads for %.0f s, %d forks, against the model", kThreads, seconds, forks);
  tmc_test_step(title);
  pthread_t watchdog;
  REQUIRE(pthread_create(&watchdog, nullptr, watchdog_main, nullptr) == 0, "pthread_create");
  for (int t = 0; t < kThreads; ++t)
    REQUIRE(pthread_create(&g_workers[t].thread, nullptr, worker_main, &g_workers[t]) == 0, "pthread_create");
  double start = ct::now_s();
  pid_t children[8];
  int nchildren = 0;
  for (int f = 1; f <= forks && f <= 8; ++f) {
    double at = start + seconds * f / (forks + 1);
    while (ct::now_s() < at) ct::sleep_ms(20);
    children[nchildren++] = fork_checker(f);
  }
  while (ct::now_s() < start + seconds) ct::sleep_ms(20);
  g_stop = true;
  for (int t = 0; t < kThreads; ++t) pthread_join(g_workers[t].thread, nullptr);
  for (int i = 0; i < nchildren; ++i) check_child(children[i], i + 1);

  tmc_test_step("final check of every byte, then again after the reclaimer evicted it all");
  for (int t = 0; t < kThreads; ++t)
    for (int s = 0; s < kSlots; ++s) verify_slot(g_workers[t], s, "at the final check");
  data_bytes = 0;
  for (int t = 0; t < kThreads; ++t)
    for (int s = 0; s < kSlots; ++s) data_bytes += g_workers[t].slots[s].size;
  data_pages = data_bytes / kPage;
  // Pages of the buffers themselves, not of freed memory (which, under TMC_TARGET, goes first).
  for (double until = ct::now_s() + 10; live_pages_out() < data_pages * 6 / 10 && ct::now_s() < until;)
    ct::sleep_ms(50);
  tmc_stats before_last = ct::stats();
  for (int t = 0; t < kThreads; ++t)
    for (int s = 0; s < kSlots; ++s) verify_slot(g_workers[t], s, "after the final eviction");
  g_watch_stop = true;
  pthread_join(watchdog, nullptr);

  tmc_stats end = ct::stats();
  Counters& c = *g_count;
  printf("ops %llu: writes %llu, verifies %llu (%llu MiB), free+alloc %llu, realloc %llu, memcpy %llu, pipe %llu, file %llu\n",
         (unsigned long long)c.ops, (unsigned long long)c.writes, (unsigned long long)c.verifies,
         (unsigned long long)(c.bytes_verified >> 20), (unsigned long long)c.frees, (unsigned long long)c.reallocs,
         (unsigned long long)c.copies, (unsigned long long)c.pipe_ios, (unsigned long long)c.file_ios);
  printf("engine during the run: evictions %llu, faults %llu (%llu held for room); in the last check %llu faults\n",
         (unsigned long long)(end.evictions - s0.evictions), (unsigned long long)(end.faults - s0.faults),
         (unsigned long long)(end.held_faults - s0.held_faults), (unsigned long long)(end.faults - before_last.faults));
  ct::print_stats("compress_stress", end);

  // Not vacuous: the engine evicted, the threads faulted pages back, also in the last check.
  REQUIRE(end.evictions - s0.evictions > 1000, "only %llu evictions", (unsigned long long)(end.evictions - s0.evictions));
  REQUIRE(end.faults - s0.faults > 1000, "only %llu faults", (unsigned long long)(end.faults - s0.faults));
  REQUIRE(end.faults > before_last.faults, "the last check faulted nothing back");
  REQUIRE(c.pipe_ios > 0 && c.file_ios > 0, "no system-call I/O was done");
  // The pool's spans were made of recycled staging pages too, so blobs in them were checked.
  // (Not with TMC_PROBATION: graduated pages come from probation's slots, which the pool
  // does not take.)
  REQUIRE(getenv("TMC_PROBATION") != nullptr || end.pool_recycled_pages > s0.pool_recycled_pages,
          "no pool page was recycled from the staging ring");
  // With TMC_TARGET (the .hold variant) faults were held while RSS was above it, so held
  // faults met purges, forks and system calls too.
  REQUIRE(getenv("TMC_TARGET") == nullptr || end.held_faults > s0.held_faults,
          "TMC_TARGET is set but no fault was held for room");
  // With TMC_DICT on (the default) most pages were compressed with the dictionary, the
  // first few without: both decode paths were exercised.
  const char* dict_opt = getenv("TMC_DICT");
  bool dict_on = dict_opt == nullptr || strcmp(dict_opt, "0") != 0;
  REQUIRE(!dict_on || end.dict_bytes > 0, "TMC_DICT is on but no dictionary was made");
  REQUIRE(dict_on || end.dict_bytes == 0, "TMC_DICT=0 but a dictionary was made");
  // With few seeds, identical pages were evicted and shared blobs (dedup is on by default).
  printf("dedup: %llu pages share a blob now, %llu compared, %llu collisions\n", (unsigned long long)end.dedup_pages,
         (unsigned long long)end.dedup_compared_pages, (unsigned long long)end.dedup_hash_collisions);
  REQUIRE(g_seeds == 0 || end.dedup_compared_pages > 1000,
          "STRESS_SEEDS is set but only %llu pages were found equal to a pooled one",
          (unsigned long long)end.dedup_compared_pages);
  tmc_test_checks_ += c.verifies;
  CHECK(c.bad_buffers == 0, "%llu verifications found %llu bytes differing from the model",
        (unsigned long long)c.bad_buffers.load(), (unsigned long long)c.bad_bytes.load());
  CHECK(c.calloc_dirty == 0, "%llu callocs returned non-zero memory", (unsigned long long)c.calloc_dirty.load());
  CHECK(c.io_errors == 0, "%llu system calls failed on heap buffers", (unsigned long long)c.io_errors.load());
  CHECK(g_self_faults == 0, "a libtmc thread was seen blocked in a userfaultfd fault %llu times",
        (unsigned long long)g_self_faults.load());
  CHECK(end.self_faults == 0, "libtmc's own threads took %llu faults on managed memory (stats self_faults)",
        (unsigned long long)end.self_faults);
  return tmc_test_finish("compress_stress");
}
