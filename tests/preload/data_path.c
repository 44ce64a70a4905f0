// Regression tests for the ways a process's ordinary life met the engine: forks that
// hung, children that read stale or zeroed pages, descriptors closed under libtmc,
// purges that raced eviction, lazily freed pages discarded in staging. One subcommand a
// test (CMakeLists.txt); each runs with TMC_COLD_AGE=0, under a watchdog that turns a
// hang into a failure, and fails (exit 1, with the reason) on the bug it covers.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tmc/tmc.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define MB ((size_t)1 << 20)
#define PAGE 4096

static const char* g_name = "?";

static void on_alarm(int sig) {
  (void)sig;
  char msg[160];
  int n = snprintf(msg, sizeof msg, "FAIL %s: hung (watchdog)\n", g_name);
  write(2, msg, (size_t)n);
  _exit(2);
}

static void watchdog(int seconds) {
  signal(SIGALRM, on_alarm);
  alarm((unsigned)seconds);
}

static int fail(const char* why) {
  fprintf(stderr, "FAIL %s: %s\n", g_name, why);
  return 1;
}

// Waits until at least `pages` pages are evicted (compressed or same-filled); false after 10 s.
static int wait_evicted(unsigned long long pages) {
  struct tmc_stats st;
  for (int i = 0; i < 200; ++i) {
    tmc_stats_get(&st);
    if (st.compressed_pages + st.same_pages + st.zero_pages >= pages) return 1;
    usleep(50000);
  }
  return 0;
}

// One word per 64-byte line, repeated through the line: compressible, never same-filled,
// different on every line and for every seed.
static uint64_t pattern_word(size_t offset, unsigned seed) {
  return ((offset / 64 + 1) * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)seed << 56) ^ 0x0101010101010101ull;
}

static void fill_pattern(char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = pattern_word(i, seed);
    memcpy(p + i, &v, 8);
  }
}

static size_t count_wrong_pages(const char* p, size_t n, unsigned seed) {
  size_t wrong = 0;
  for (size_t page = 0; page < n; page += PAGE) {
    for (size_t i = page; i < page + PAGE; i += 8) {
      uint64_t v = pattern_word(i, seed);
      if (memcmp(p + i, &v, 8) != 0) {
        ++wrong;
        break;
      }
    }
  }
  return wrong;
}

// glibc's fork() locks NSS state (in the heap) after the atfork prepare handlers ran: a
// fault there must still be served.
static int test_nss_fork(void) {
  if (getpwuid(0) == NULL) return fail("getpwuid(0) failed");
  char* fill = malloc(8 * MB);
  fill_pattern(fill, 8 * MB, 1);
  if (!wait_evicted(1024)) return fail("nothing was evicted");
  usleep(300000);  // the NSS state's page too
  for (int i = 0; i < 20; ++i) {
    pid_t pid = fork();
    if (pid == 0) _exit(getpwuid(0) != NULL ? 0 : 3);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return fail("child failed");
    usleep(50000);
  }
  return 0;
}

// fork() takes glibc's stdio list lock, which a thread in fflush/fclose holds while it
// walks FILEs in heap pages that may be evicted.
static atomic_int g_stop;
static void* flusher(void* arg) {
  (void)arg;
  while (!atomic_load(&g_stop)) fflush(NULL);
  return NULL;
}

static int test_stdio_fork(void) {
  FILE* keep[200];
  for (int i = 0; i < 200; ++i) {
    keep[i] = fopen("/dev/null", "r");
    (void)!malloc(3000);  // spread the FILEs over pages
  }
  char* fill = malloc(8 * MB);
  fill_pattern(fill, 8 * MB, 5);
  if (!wait_evicted(1024)) return fail("nothing was evicted");
  pthread_t t;
  pthread_create(&t, NULL, flusher, NULL);
  for (int i = 0; i < 60; ++i) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    usleep(20000);
  }
  atomic_store(&g_stop, 1);
  pthread_join(t, NULL);
  for (int i = 0; i < 200; ++i) fclose(keep[i]);
  return 0;
}

// The cycle that hung the torture harness after 51 minutes, forced in order: a thread
// holds a FILE's lock and will malloc, a second is in fflush(NULL) (it holds glibc's
// stdio list lock and waits for that FILE), and a third forks. glibc's fork() takes the
// list lock only after the prepare handlers, so after jemalloc's, which hold every
// allocator lock: the malloc waits for the forker, the forker for the flusher, the
// flusher for the FILE. libtmc's prepare handler takes the list lock before jemalloc's
// (src/runtime/fork.cc). Nothing is evicted here: the cycle is in the locks alone.
static FILE* g_held_file;
static atomic_int g_step;  // 1: FILE locked, 2: flusher started, 3: forker started
static void* file_holder(void* arg) {
  (void)arg;
  flockfile(g_held_file);
  atomic_store(&g_step, 1);
  while (atomic_load(&g_step) < 3) usleep(1000);
  usleep(200000);  // the forker is inside fork() by now, waiting for the list lock
  // Larger than jemalloc's thread cache serves: takes the arena's locks.
  char* big = malloc(4 * MB);
  if (big != NULL) memset(big, 1, 4 * MB);
  funlockfile(g_held_file);
  free(big);
  return NULL;
}
static void* list_flusher(void* arg) {
  (void)arg;
  while (atomic_load(&g_step) < 1) usleep(1000);
  atomic_store(&g_step, 2);
  fflush(NULL);  // holds the list lock, then waits for g_held_file
  return NULL;
}
static int test_stdio_malloc_fork(void) {
  g_held_file = fopen("/dev/null", "w");
  if (g_held_file == NULL) return fail("cannot open /dev/null");
  for (int round = 0; round < 3; ++round) {
    atomic_store(&g_step, 0);
    pthread_t holder, flush;
    pthread_create(&holder, NULL, file_holder, NULL);
    pthread_create(&flush, NULL, list_flusher, NULL);
    while (atomic_load(&g_step) < 2) usleep(1000);
    usleep(100000);  // the flusher is blocked on the FILE, holding the list lock
    atomic_store(&g_step, 3);
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return fail("child failed");
    pthread_join(holder, NULL);
    pthread_join(flush, NULL);
  }
  fclose(g_held_file);
  return 0;
}

// free() of a large compressed buffer purges it (REMOVE event) and a fork follows at once:
// the child's copy of the page states must already say "purged", so its calloc of the same
// range reads zeros.
static int test_fork_after_free(void) {
  const size_t n = 128 * MB;
  for (int round = 0; round < 3; ++round) {
    char* x = malloc(n);
    fill_pattern(x, n, 2);
    if (!wait_evicted(n / PAGE - 64)) return fail("the buffer was not evicted");
    free(x);
    pid_t pid = fork();
    if (pid == 0) {
      char* y = calloc(1, n);
      size_t stale = 0;
      for (size_t i = 0; i < n; i += PAGE)
        if (y[i] != 0 || y[i + PAGE - 8] != 0) ++stale;
      if (stale != 0) fprintf(stderr, "child: %zu of %zu pages of calloc'd memory not zero\n", stale, n / PAGE);
      _exit(stale == 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return fail("the child read old contents where calloc promised zeros");
  }
  return 0;
}

// A child that closes every descriptor above 2 must still read its evicted pages.
static int test_closefrom_child(void) {
  const size_t n = 4 * MB;
  char* p = malloc(n);
  fill_pattern(p, n, 3);
  if (!wait_evicted(n / PAGE - 16)) return fail("the buffer was not evicted");
  pid_t pid = fork();
  if (pid == 0) {
    syscall(SYS_close_range, 3u, ~0u, 0u);
    size_t wrong = count_wrong_pages(p, n, 3);
    if (wrong != 0) fprintf(stderr, "child: %zu of %zu pages wrong after close_range\n", wrong, n / PAGE);
    _exit(wrong == 0 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return fail("the child's evicted pages were lost with its descriptors");
  // And this process, after closing everything it did not open itself.
  syscall(SYS_close_range, 3u, ~0u, 0u);
  if (count_wrong_pages(p, n, 3) != 0) return fail("pages wrong after close_range in the parent");
  return 0;
}

// Forks while signals rain on the process group (a program's SIGCHLD, a supervisor's
// SIGUSR1): the fork hand-over's waits must not end at the first signal. A child whose wait
// for its userfaultfd was cut short had no one to serve its evicted pages: they read zero.
static atomic_int g_signals_stop;
static void on_usr1(int sig) { (void)sig; }
static void* signaller(void* arg) {
  (void)arg;
  struct timespec ts = {0, 50000};
  while (!atomic_load(&g_signals_stop)) {
    kill(0, SIGUSR1);
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static int test_signal_fork(void) {
  // A process group of its own, so that the signals reach this process and its children only.
  if (setpgid(0, 0) != 0) return fail("setpgid");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;  // no SA_RESTART: poll() and friends return EINTR
  sigaction(SIGUSR1, &sa, NULL);
  const size_t n = 4 * MB;
  char* p = malloc(n);
  fill_pattern(p, n, 9);
  if (!wait_evicted(n / PAGE - 16)) return fail("the buffer was not evicted");
  pthread_t t;
  pthread_create(&t, NULL, signaller, NULL);
  int failed = 0;
  for (int round = 0; round < 20 && !failed; ++round) {
    pid_t pid = fork();
    if (pid == 0) {
      size_t wrong = count_wrong_pages(p, n, 9);
      if (wrong != 0) fprintf(stderr, "child %d: %zu of %zu pages wrong\n", round, wrong, n / PAGE);
      _exit(wrong == 0 ? 0 : 1);
    }
    if (pid < 0) return fail("fork");
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
  }
  atomic_store(&g_signals_stop, 1);
  pthread_join(t, NULL);
  signal(SIGUSR1, SIG_IGN);
  if (failed) return fail("a child forked among signals read wrong pages");
  if (count_wrong_pages(p, n, 9) != 0) return fail("pages wrong in the parent");
  free(p);
  return 0;
}

// Forks while other threads start and join threads as fast as they can: libtmc's
// pthread_create takes a start record under a lock (src/runtime/thread_exit.cc) and may
// map metadata under another. A child forked while a vanished thread held one of them
// waited for it for good in its fork handler, before it could start its fault thread.
static atomic_int g_churn_stop;
static void* empty_thread(void* arg) { return arg; }
static void* thread_churner(void* arg) {
  (void)arg;
  while (!atomic_load(&g_churn_stop)) {
    pthread_t t;
    if (pthread_create(&t, NULL, empty_thread, NULL) == 0) pthread_join(t, NULL);
  }
  return NULL;
}

static int test_thread_churn_fork(void) {
  const size_t n = 1 * MB;
  char* p = malloc(n);
  fill_pattern(p, n, 13);
  if (!wait_evicted(n / PAGE - 16)) return fail("the buffer was not evicted");
  pthread_t churners[3];
  for (int i = 0; i < 3; ++i) pthread_create(&churners[i], NULL, thread_churner, NULL);
  int failed = 0, forks = 0;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  // 15 s of forks, each child checking a page and exiting: a hung child trips the watchdog.
  do {
    pid_t pid = fork();
    if (pid == 0) _exit(count_wrong_pages(p, PAGE, 13) == 0 ? 0 : 1);
    if (pid < 0) return fail("fork");
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
    ++forks;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (!failed && now.tv_sec - start.tv_sec < 15);
  atomic_store(&g_churn_stop, 1);
  for (int i = 0; i < 3; ++i) pthread_join(churners[i], NULL);
  printf("%d forks among thread churn\n", forks);
  if (failed) return fail("a child forked among thread churn read a wrong page");
  if (count_wrong_pages(p, n, 13) != 0) return fail("pages wrong in the parent");
  free(p);
  return 0;
}

// None of libtmc's descriptors is in the application's table below 512, and none survives
// exec: the program's first open() gets the lowest free number.
static int test_descriptors(void) {
  char* p = malloc(4 * MB);
  fill_pattern(p, 4 * MB, 4);
  if (!wait_evicted(512)) return fail("nothing was evicted");
  DIR* d = opendir("/proc/self/fd");
  struct dirent* e;
  int bad = 0;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] == '.' || fd == dirfd(d)) continue;
    char path[64], target[256] = "";
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len > 0) target[len] = '\0';
    int ours = strstr(target, "userfaultfd") != NULL || strstr(target, "pagemap") != NULL;
    int cloexec = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
    if (ours || (fd >= 3 && fd < 512 && getenv("TMC_TEST_FDS_CLEAN") != NULL) || (fd >= 512 && !cloexec)) {
      fprintf(stderr, "descriptor %d -> %s (close-on-exec %d)\n", fd, target, cloexec);
      bad = 1;
    }
  }
  closedir(d);
  return bad ? fail("libtmc holds a descriptor in the application's table") : 0;
}

// A purge made with the raw system call (as io_uring's madvise does) races eviction; after
// it returns the pages read zero. A thread taking the address-space lock for writing widens
// the window between the REMOVE event and the kernel's zap.
static void* lock_writer(void* arg) {
  size_t n = 64 * MB;
  char* r = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(r, 1, n);
  while (!atomic_load(&g_stop)) {
    mprotect(r, n, PROT_READ);
    mprotect(r, n, PROT_READ | PROT_WRITE);
  }
  return arg;
}

static int test_raw_madvise(void) {
  const size_t pages = 16;
  char* p = aligned_alloc(2 * MB, 2 * MB);
  memset(p, 7, 2 * MB);
  if (!wait_evicted(400)) return fail("nothing was evicted");
  pthread_t t;
  pthread_create(&t, NULL, lock_writer, NULL);
  unsigned long stale = 0, iters = 0;
  time_t end = time(NULL) + 8;
  while (time(NULL) < end) {
    for (size_t i = 0; i < pages; ++i) memset(p + i * PAGE, 0x5a, PAGE);
    for (volatile int k = 0; k < (int)(iters % 2000); ++k) {
    }
    syscall(SYS_madvise, p, pages * PAGE, MADV_DONTNEED);
    for (size_t i = 0; i < pages; ++i)
      for (size_t j = 0; j < PAGE; j += 512)
        if (p[i * PAGE + j] != 0) {
          ++stale;
          break;
        }
    ++iters;
  }
  atomic_store(&g_stop, 1);
  pthread_join(t, NULL);
  printf("raw_madvise: %lu purges, %lu stale pages\n", iters, stale);
  return stale == 0 ? 0 : fail("purged pages came back with old contents");
}

// A MADV_FREE made with the raw system call zaps nothing: the program may write the page
// again at once, with no fault, while the fault thread has yet to handle the REMOVE event.
// A page the reclaimer moved out in that gap (or owned when the event came) was dropped
// with the write in it, and read zero later: the write was lost.
#define FREE_WRITERS 4
#define FREE_PAGES 32
static atomic_ulong g_lost_writes, g_free_rounds;

static void* free_writer(void* arg) {
  unsigned char* p = arg;
  unsigned char version[FREE_PAGES];
  memset(version, 1, sizeof version);
  memset(p, 1, FREE_PAGES * PAGE);
  uint64_t s = (uint64_t)(uintptr_t)arg | 1;
  while (!atomic_load(&g_stop)) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    size_t first = s % (FREE_PAGES - 8), n = 1 + (s >> 8) % 8;
    // A raw purge leaves its pages to the kernel until they are seen gone; purged through
    // libc (libtmc's guard) and written again, they are the reclaimer's to take again.
    madvise(p + first * PAGE, n * PAGE, MADV_DONTNEED);
    for (size_t i = first; i < first + n; ++i) memset(p + i * PAGE, version[i], PAGE);
    for (volatile int k = 0; k < (int)((s >> 24) % 50000); ++k) {
    }
    syscall(SYS_madvise, p + first * PAGE, n * PAGE, MADV_FREE);
    for (size_t i = first; i < first + n; ++i) {
      version[i] = (unsigned char)(version[i] % 250 + 1);
      memset(p + i * PAGE, version[i], PAGE);  // the kernel's to keep from here on
    }
    for (volatile int k = 0; k < (int)((s >> 16) % 20000); ++k) {
    }
    // Every page holds the last version written (pages not named since were never freed).
    for (size_t i = 0; i < FREE_PAGES; ++i)
      if (p[i * PAGE] != version[i] || p[i * PAGE + PAGE - 1] != version[i]) {
        atomic_fetch_add(&g_lost_writes, 1);
        memset(p + i * PAGE, version[i], PAGE);
      }
    atomic_fetch_add(&g_free_rounds, 1);
  }
  return NULL;
}

static int test_raw_free_write(void) {
  unsigned char* area = aligned_alloc(2 * MB, 2 * MB);
  memset(area, 3, 2 * MB);
  if (!wait_evicted(400)) return fail("nothing was evicted");
  pthread_t t[FREE_WRITERS];
  for (int i = 0; i < FREE_WRITERS; ++i) pthread_create(&t[i], NULL, free_writer, area + (size_t)i * FREE_PAGES * PAGE);
  sleep(8);
  atomic_store(&g_stop, 1);
  for (int i = 0; i < FREE_WRITERS; ++i) pthread_join(t[i], NULL);
  unsigned long lost = atomic_load(&g_lost_writes);
  printf("raw_free_write: %lu rounds, %lu pages lost their last write\n", atomic_load(&g_free_rounds), lost);
  return lost == 0 ? 0 : fail("a page written right after a raw MADV_FREE lost the write");
}

// A MADV_FREEd page carried into a staging slot may be discarded there under memory
// pressure (simulated with MADV_PAGEOUT on every anonymous mapping but the heap): libtmc
// must neither fault on itself nor stop; the page reads its old bytes or zeros.
static struct {
  unsigned long a, b;
} g_maps[256];
static int g_nmaps;

static void* pageout(void* arg) {
  (void)arg;
  while (!atomic_load(&g_stop))
    for (int i = 0; i < g_nmaps; ++i) syscall(SYS_madvise, (void*)g_maps[i].a, g_maps[i].b - g_maps[i].a, MADV_PAGEOUT);
  return NULL;
}

static int test_lazyfree_staging(void) {
  const size_t n = 8 * MB;
  char* b = aligned_alloc(2 * MB, n);
  uint64_t s = 88172645463325252ull;  // incompressible: pages are moved back from staging
  for (size_t i = 0; i < n; i += 8) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    memcpy(b + i, &s, 8);
  }
  struct tmc_stats st;
  for (int i = 0; i < 80; ++i) {
    tmc_stats_get(&st);
    if (st.incompressible > 1000) break;
    usleep(100000);
  }
  madvise(b, n, MADV_FREE);
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  while (fgets(line, sizeof line, f) && g_nmaps < 256) {
    unsigned long a, e, off, ino;
    char perms[8], dev[16], name[256] = "";
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %255[^\n]", &a, &e, perms, &off, dev, &ino, name) < 6) continue;
    if (ino != 0 || perms[1] != 'w' || tmc_is_managed((void*)a) || strstr(name, "[stack")) continue;
    g_maps[g_nmaps].a = a, g_maps[g_nmaps].b = e, ++g_nmaps;
  }
  fclose(f);
  pthread_t t;
  pthread_create(&t, NULL, pageout, NULL);
  for (int round = 0; round < 40; ++round) {
    usleep(50000);
    volatile char sink = 0;
    for (size_t i = 0; i < n; i += PAGE) sink += b[i];
  }
  atomic_store(&g_stop, 1);
  pthread_join(t, NULL);
  tmc_stats_get(&st);
  if (st.self_faults != 0) return fail("a libtmc thread faulted on managed memory");
  return 0;
}

// After a fork whose child has exited, the pages the child shared are evicted like any
// other (the kernel keeps them marked shared until this process writes them).
static int test_after_fork_evict(void) {
  const size_t n = 8 * MB;
  char* a = malloc(n);
  fill_pattern(a, n, 6);
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, NULL, 0);
  if (!wait_evicted(n / PAGE - 16)) return fail("pages once shared with an exited child stay resident");
  if (count_wrong_pages(a, n, 6) != 0) return fail("pages wrong after eviction");
  return 0;
}

// A fork at the very start of a process that gets no fork events, before the fault thread
// has set itself up: prefork asks it to bring every page back (restore_all) and waits. The
// thread took requests made before it started as already served, and fork() hung for good
// (seen twice in CI as compress_fork.no_fork_events stuck on its first fork). Run with
// TMC_TEST_NO_FORK_EVENTS=1 TMC_TEST_FAULT_START_DELAY_MS=300, which makes that start late.
static int test_early_fork(void) {
  pid_t pid = fork();
  if (pid < 0) return fail("fork failed");
  if (pid == 0) {
    char* argv[] = {(char*)"/bin/true", NULL};
    execv("/bin/true", argv);
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return fail("the child of the early fork did not run /bin/true");
  return 0;
}

int main(int argc, char** argv) {
  static const struct {
    const char* name;
    int (*run)(void);
  } tests[] = {
      {"nss_fork", test_nss_fork},           {"stdio_fork", test_stdio_fork},
      {"fork_after_free", test_fork_after_free}, {"closefrom_child", test_closefrom_child},
      {"descriptors", test_descriptors},     {"raw_madvise", test_raw_madvise},
      {"lazyfree_staging", test_lazyfree_staging}, {"after_fork_evict", test_after_fork_evict},
      {"raw_free_write", test_raw_free_write}, {"stdio_malloc_fork", test_stdio_malloc_fork},
      {"signal_fork", test_signal_fork},     {"thread_churn_fork", test_thread_churn_fork},
      {"early_fork", test_early_fork},
  };
  if (argc != 2) {
    fprintf(stderr, "usage: %s TEST\n", argv[0]);
    return 64;
  }
  if (!tmc_is_active()) {
    fprintf(stderr, "libtmc is not active (run under LD_PRELOAD)\n");
    return 77;
  }
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; ++i) {
    if (strcmp(argv[1], tests[i].name) != 0) continue;
    g_name = tests[i].name;
    watchdog(50);
    int rc = tests[i].run();
    struct tmc_stats st;
    tmc_stats_get(&st);
    if (rc == 0 && st.verify_failures != 0) rc = fail("pages came back with other bytes than they left with (verify_failures)");
    if (rc == 0 && st.self_faults != 0) rc = fail("a libtmc thread faulted on managed memory");
    if (rc == 0) printf("ok %s (evictions %llu, faults %llu)\n", g_name, (unsigned long long)st.evictions, (unsigned long long)st.faults);
    return rc;
  }
  fprintf(stderr, "unknown test %s\n", argv[1]);
  return 64;
}
