/* fork and exec under the preload:
 *  - children (forked while other threads are busy in malloc) verify the parent's heap
 *    byte for byte, allocate, realloc and free (also parent-allocated blocks), start a
 *    thread, fork a grandchild; the parent's heap is unchanged afterwards;
 *  - fork+exec of /bin/true and of this program itself (which allocates and checks that
 *    it is still preloaded), vfork+exec, posix_spawn, system() and popen(). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tmc_test.h"

extern char** environ;

#define NBLOCKS 64
static void* g_blocks[NBLOCKS];
static size_t g_sizes[NBLOCKS];
static atomic_int g_stop;

static size_t block_size(int i) {
  if (i % 16 == 0) return (size_t)(1 + i / 16) << 18; /* 256 KiB..1 MiB */
  if (i % 4 == 0) return 5000 + (size_t)i * 997;
  return 1 + (size_t)i * 37;
}

static void* churn(void* arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  void* slots[32] = {0};
  unsigned long iter = 0;
  while (!atomic_load(&g_stop)) {
    seed = seed * 1103515245u + 12345u;
    int k = (int)(seed >> 16) % 32;
    free(slots[k]);
    size_t n = 1 + (seed >> 8) % ((seed & 1) ? 20000 : 300);
    slots[k] = malloc(n);
    if (slots[k]) memset(slots[k], (int)k, n);
    /* Busy in malloc often enough to be caught mid-call by fork, but leave CPU to the
     * children (2 cores). */
    if (++iter % 32 == 0) {
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
    }
  }
  for (int k = 0; k < 32; k++) free(slots[k]);
  return NULL;
}

static void* child_thread(void* arg) {
  (void)arg;
  int ok = 1;
  for (int i = 0; i < 2000; i++) {
    size_t n = 1 + (size_t)i * 13 % 5000;
    unsigned char* p = malloc(n);
    if (!p) return (void*)0;
    tmc_test_fill(p, n, (uint64_t)i);
    ok &= tmc_test_verify(p, n, (uint64_t)i) < 0;
    free(p);
  }
  return (void*)(uintptr_t)ok;
}

/* Runs in a forked child; returns the exit code. */
static int child_work(int depth) {
  alarm(30); /* a deadlock in malloc after fork ends the child instead of hanging the test */
  for (int i = 0; i < NBLOCKS; i++) {
    long bad = tmc_test_verify(g_blocks[i], g_sizes[i], (uint64_t)i);
    if (bad >= 0) {
      fprintf(stderr, "child: parent block %d (%zu bytes) differs at byte %ld\n", i, g_sizes[i], bad);
      return 2;
    }
  }
  if (depth == 0) {
    /* A grandchild sees the same heap, before this child changes it. */
    pid_t g = fork();
    if (g < 0) return 8;
    if (g == 0) _exit(child_work(1));
    int st = 0;
    if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "child: grandchild failed (status 0x%x)\n", st);
      return 9;
    }
  }
  /* Allocate new memory, change and free parent blocks: copy-on-write keeps the parent's. */
  void* mine[200];
  for (int i = 0; i < 200; i++) {
    size_t n = 1 + (size_t)i * 211;
    mine[i] = malloc(n);
    if (!mine[i]) return 3;
    tmc_test_fill(mine[i], n, 5000 + (uint64_t)i);
  }
  for (int i = 0; i < NBLOCKS; i += 2) {
    memset(g_blocks[i], 0xEE, g_sizes[i]);
    free(g_blocks[i]);
  }
  for (int i = 1; i < NBLOCKS; i += 2) {
    void* q = realloc(g_blocks[i], g_sizes[i] * 2 + 10);
    if (!q || tmc_test_verify(q, g_sizes[i], (uint64_t)i) >= 0) return 4;
    free(q);
  }
  for (int i = 0; i < 200; i++) {
    if (tmc_test_verify(mine[i], 1 + (size_t)i * 211, 5000 + (uint64_t)i) >= 0) return 5;
    free(mine[i]);
  }
  pthread_t t;
  void* ok = NULL;
  if (pthread_create(&t, NULL, child_thread, NULL) != 0) return 6;
  pthread_join(t, &ok);
  if (!ok) return 7;
  return 0;
}

static int exec_child_main(void) {
  /* We are this program again after execve: the preload must still be in force. */
  int ok = 1;
  for (int i = 0; i < 1000; i++) {
    size_t n = 1 + (size_t)i * 101;
    void* p = malloc(n);
    if (!p) return 3;
    tmc_test_fill(p, n, (uint64_t)i);
    ok &= tmc_test_verify(p, n, (uint64_t)i) < 0;
    free(p);
  }
  if (!ok) return 4;
  if (tmc_test_preloaded_libtmc()) {
    Dl_info info;
    void* m = dlsym(RTLD_DEFAULT, "malloc");
    if (!m || !dladdr(m, &info) || !info.dli_fname || !strstr(info.dli_fname, "libtmc")) {
      fprintf(stderr, "exec child: malloc is not from libtmc (%s)\n", m && dladdr(m, &info) ? info.dli_fname : "?");
      return 5;
    }
  }
  return 42; /* distinct, so the parent knows this code ran */
}

static int wait_code(pid_t pid) {
  int st = 0;
  pid_t r;
  do r = waitpid(pid, &st, 0);
  while (r < 0 && errno == EINTR);
  if (r != pid) return -1;
  if (WIFSIGNALED(st)) return 1000 + WTERMSIG(st);
  return WEXITSTATUS(st);
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--exec-child") == 0) return exec_child_main();

  for (int i = 0; i < NBLOCKS; i++) {
    g_sizes[i] = block_size(i);
    g_blocks[i] = malloc(g_sizes[i]);
    REQUIRE(g_blocks[i] != NULL, "malloc(%zu)", g_sizes[i]);
    tmc_test_fill(g_blocks[i], g_sizes[i], (uint64_t)i);
  }

  tmc_test_step("fork x12 while 3 threads churn malloc/free: children verify the parent heap, allocate, free, fork again");
  pthread_t churners[3];
  for (int t = 0; t < 3; t++) REQUIRE(pthread_create(&churners[t], NULL, churn, (void*)(uintptr_t)(t + 1)) == 0, "pthread_create");
  for (int round = 0; round < 12; round++) {
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork failed: %s", strerror(errno));
    if (pid == 0) _exit(child_work(0));
    /* The parent keeps allocating while the child runs. */
    void* extra = malloc(1000 + (size_t)round * 100);
    tmc_test_fill(extra, 1000 + (size_t)round * 100, 99);
    int code = wait_code(pid);
    CHECK(code == 0, "fork round %d: child ended with %d (1000+N = signal N)", round, code);
    CHECK(tmc_test_verify(extra, 1000 + (size_t)round * 100, 99) < 0, "parent block changed");
    free(extra);
  }
  atomic_store(&g_stop, 1);
  for (int t = 0; t < 3; t++) pthread_join(churners[t], NULL);

  tmc_test_step("parent heap unchanged by what the children wrote and freed");
  for (int i = 0; i < NBLOCKS; i++) {
    long bad = tmc_test_verify(g_blocks[i], g_sizes[i], (uint64_t)i);
    CHECK(bad < 0, "parent block %d changed at byte %ld after the children ran", i, bad);
  }
  for (int i = 0; i < NBLOCKS; i++) {
    void* q = realloc(g_blocks[i], g_sizes[i] + 4096);
    REQUIRE(q != NULL, "realloc");
    CHECK(tmc_test_verify(q, g_sizes[i], (uint64_t)i) < 0, "realloc after fork lost bytes");
    g_blocks[i] = q;
  }

  tmc_test_step("fork+exec /bin/true, fork+exec self (allocates, still preloaded), vfork+exec");
  fflush(NULL);
  pid_t pid = fork();
  REQUIRE(pid >= 0, "fork");
  if (pid == 0) {
    execl("/bin/true", "true", (char*)NULL);
    _exit(127);
  }
  CHECK(wait_code(pid) == 0, "fork+exec /bin/true failed");

  fflush(NULL);
  pid = fork();
  REQUIRE(pid >= 0, "fork");
  if (pid == 0) {
    void* p = malloc(12345); /* allocate between fork and exec */
    tmc_test_escape(p);
    execl("/proc/self/exe", argv[0], "--exec-child", (char*)NULL);
    _exit(127);
  }
  int code = wait_code(pid);
  CHECK(code == 42, "fork+exec self: exit code %d, want 42", code);

  pid = vfork();
  REQUIRE(pid >= 0, "vfork");
  if (pid == 0) {
    execl("/proc/self/exe", argv[0], "--exec-child", (char*)NULL);
    _exit(127);
  }
  code = wait_code(pid);
  CHECK(code == 42, "vfork+exec self: exit code %d, want 42", code);

  tmc_test_step("posix_spawn, system() and popen()");
  char* spawn_argv[] = {argv[0], (char*)"--exec-child", NULL};
  pid_t sp = 0;
  int rc = posix_spawn(&sp, "/proc/self/exe", NULL, NULL, spawn_argv, environ);
  CHECK(rc == 0, "posix_spawn: %s", strerror(rc));
  if (rc == 0) {
    code = wait_code(sp);
    CHECK(code == 42, "posix_spawn self: exit code %d, want 42", code);
  }
  int st = system("exit 7");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "system(\"exit 7\") = %d", st);
  FILE* f = popen("echo libtmc-popen; echo second line", "r");
  REQUIRE(f != NULL, "popen");
  char line[64];
  int lines = 0, first_ok = 0;
  while (fgets(line, sizeof line, f)) {
    if (lines == 0) first_ok = strcmp(line, "libtmc-popen\n") == 0;
    lines++;
  }
  CHECK(pclose(f) == 0, "pclose status");
  CHECK(lines == 2 && first_ok, "popen read %d lines", lines);

  for (int i = 0; i < NBLOCKS; i++) free(g_blocks[i]);
  return tmc_test_finish("fork_exec");
}
