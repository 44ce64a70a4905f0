/* TMC_KSM=1 where the kernel refuses MADV_MERGEABLE (a sandbox's seccomp filter, a kernel
 * without KSM): libtmc says so in one line, however many regions it reserves, and goes on
 * as an allocator. The test runs itself again under a seccomp filter that makes
 * madvise(MADV_MERGEABLE) fail with EPERM, with TMC_REGION_SIZE=64M so that the child's
 * allocations need several regions, and reads the child's stderr. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tmc_test.h"

#define CHUNK (16u << 20)
#define CHUNKS 16 /* 256 MiB: four 64 MiB regions at least */

static int child(void) {
  unsigned char* p[CHUNKS];
  for (int i = 0; i < CHUNKS; ++i) {
    p[i] = malloc(CHUNK);
    if (p[i] == NULL) return 2;
    memset(p[i], i + 1, CHUNK);
  }
  for (int i = 0; i < CHUNKS; ++i)
    for (size_t j = 0; j < CHUNK; j += 4096)
      if (p[i][j] != (unsigned char)(i + 1)) return 3;
  for (int i = 0; i < CHUNKS; ++i) free(p[i]);
  printf("child: %d MiB allocated, written and read back\n", CHUNKS * (int)(CHUNK >> 20));
  return 0;
}

static void refuse_mergeable(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MADV_MERGEABLE, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
  REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
  REQUIRE(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, "seccomp: %s", strerror(errno));
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) return child();
#if !defined(__x86_64__)
  printf("ksm_refused: SKIP: the filter is written for x86-64\n");
  return TMC_TEST_SKIP;
#else
  int fds[2];
  REQUIRE(pipe(fds) == 0, "pipe");
  pid_t pid = fork();
  REQUIRE(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    setenv("TMC_KSM", "1", 1);
    setenv("TMC_REGION_SIZE", "64M", 1);
    setenv("TMC_LOG", "warn", 1);
    refuse_mergeable();
    execl("/proc/self/exe", argv[0], "child", (char*)NULL);
    _exit(127);
  }
  close(fds[1]);
  static char err[1 << 16];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof(err) - 1 && (r = read(fds[0], err + n, sizeof(err) - 1 - n)) > 0) n += (size_t)r;
  err[n] = '\0';
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
  fprintf(stderr, "child's stderr:\n%s", err);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status %d)", status);
  int lines = 0;
  for (const char* p = err; (p = strstr(p, "TMC_KSM: madvise(MADV_MERGEABLE) failed")) != NULL; ++p) ++lines;
  CHECK(lines == 1, "%d lines about MADV_MERGEABLE, want exactly 1", lines);
  CHECK(strstr(err, "EPERM") != NULL, "the line does not name the error");
  if (tmc_test_failures() == 0) printf("ok ksm_refused: one line, the child ran as an allocator\n");
  return tmc_test_failures() == 0 ? 0 : 1;
#endif
}
