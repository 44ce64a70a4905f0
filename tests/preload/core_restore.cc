// TMC_CORE_RESTORE: a process that crashes with evicted heap pages dumps a complete core,
// and a crash handler the program installed still runs first. Each case is a process of its
// own (posix_spawn), crashing in a directory of its own with RLIMIT_CORE raised; the core
// (kernel.core_pattern must be a plain file name) is then read back here: every page of
// the buffer the process had filled, and that was evicted before the crash, must be in it.
//
//   handler   Redis's way: a SIGSEGV handler that reports, resets the action to the default
//             (SA_RESETHAND) and sends the signal again with kill(); then a NULL write
//   abort     no handler; abort()
//   plain     as `handler`, without TMC_CORE_RESTORE: the core must miss the evicted
//             pages (zeros), or this test could not tell
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "compress_test.h"

extern char** environ;

namespace {

constexpr int kReportFd = 3;
constexpr size_t kPages = 1024;  // 4 MiB
constexpr uint64_t kSeed = 31337;

void report(const char* text) { (void)!write(kReportFd, text, strlen(text)); }

void redis_like_handler(int sig, siginfo_t*, void*) {
  report("handler ran\n");
  struct sigaction act = {};
  sigemptyset(&act.sa_mask);
  act.sa_flags = SA_NODEFER | SA_ONSTACK | SA_RESETHAND;
  act.sa_handler = SIG_DFL;
  sigaction(sig, &act, nullptr);
  kill(getpid(), sig);
}

[[noreturn]] void crash(bool with_handler) {
  struct rlimit core;
  getrlimit(RLIMIT_CORE, &core);
  core.rlim_cur = core.rlim_max;
  setrlimit(RLIMIT_CORE, &core);
  prctl(PR_SET_DUMPABLE, 1);
  char* buffer = static_cast<char*>(aligned_alloc(ct::kPage, kPages * ct::kPage));
  for (size_t i = 0; i < kPages; ++i) ct::fill_text(buffer + i * ct::kPage, ct::kPage, kSeed + i);
  char line[128];
  snprintf(line, sizeof(line), "buffer %lx core limit %llu\n", reinterpret_cast<unsigned long>(buffer),
           static_cast<unsigned long long>(core.rlim_cur));
  report(line);
  long present = ct::wait_evicted(buffer, kPages * ct::kPage, kPages / 10, 20);
  snprintf(line, sizeof(line), "present before the crash %ld\n", present);
  report(line);
  if (with_handler) {
    struct sigaction act = {};
    act.sa_sigaction = redis_like_handler;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigaction(SIGSEGV, &act, nullptr);
    // A real fault on an inaccessible page (a store through a null pointer would be
    // undefined behaviour, which UBSan reports and exits on instead).
    void* guard = mmap(nullptr, ct::kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard == MAP_FAILED) abort();
    *static_cast<volatile int*>(guard) = 1;
  }
  abort();
}

struct Outcome {
  int status = -1;
  char report[512] = {};
  unsigned long buffer = 0;
  long present_before = -1;
};

Outcome run_case(const char* self, const char* mode, const char* dir, const char* core_restore) {
  Outcome o;
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], kReportFd);
  posix_spawn_file_actions_addchdir_np(&actions, dir);
  static char* envp[256];
  int n = 0;
  for (char** e = environ; *e != nullptr && n < 250; ++e)
    if (strncmp(*e, "TMC_CORE_RESTORE=", 17) != 0 && strncmp(*e, "TMC_COLD_AGE=", 13) != 0) envp[n++] = *e;
  envp[n++] = const_cast<char*>(core_restore);
  envp[n++] = const_cast<char*>("TMC_COLD_AGE=0");
  envp[n] = nullptr;
  char* argv[] = {const_cast<char*>(self), const_cast<char*>(mode), nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, self, &actions, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  REQUIRE(rc == 0, "posix_spawn: %s", strerror(rc));
  bool exited = false;
  for (int i = 0; i < 6000 && !exited; ++i) {
    exited = waitpid(pid, &o.status, WNOHANG) == pid;
    if (!exited) ct::sleep_ms(10);
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    o.status = -1;
  }
  ssize_t got = read(fds[0], o.report, sizeof(o.report) - 1);
  o.report[got > 0 ? got : 0] = '\0';
  close(fds[0]);
  sscanf(o.report, "buffer %lx", &o.buffer);
  if (const char* p = strstr(o.report, "present before the crash ")) o.present_before = strtol(p + 25, nullptr, 10);
  printf("%s: wait status %#x, reported:\n%s", mode, o.status, o.report);
  fflush(stdout);
  return o;
}

// Reads the buffer's pages out of the ELF core at `path`; returns how many differ from what
// the process wrote (pages missing from the core count), or -1 if the core is unreadable.
long bad_pages_in_core(const char* path, unsigned long buffer) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  Elf64_Ehdr eh;
  if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_type != ET_CORE) {
    close(fd);
    return -1;
  }
  static Elf64_Phdr ph[4096];
  size_t count = eh.e_phnum < 4096 ? eh.e_phnum : 4096;
  if (pread(fd, ph, count * sizeof(Elf64_Phdr), static_cast<off_t>(eh.e_phoff)) != static_cast<ssize_t>(count * sizeof(Elf64_Phdr))) {
    close(fd);
    return -1;
  }
  static char got[ct::kPage], want[ct::kPage];
  long bad = 0;
  for (size_t i = 0; i < kPages; ++i) {
    unsigned long addr = buffer + i * ct::kPage;
    bool found = false;
    for (size_t k = 0; k < count && !found; ++k) {
      if (ph[k].p_type != PT_LOAD || addr < ph[k].p_vaddr || addr + ct::kPage > ph[k].p_vaddr + ph[k].p_filesz) continue;
      found = pread(fd, got, ct::kPage, static_cast<off_t>(ph[k].p_offset + (addr - ph[k].p_vaddr))) == ct::kPage;
    }
    ct::fill_text(want, ct::kPage, kSeed + i);
    bad += !found || memcmp(got, want, ct::kPage) != 0;
  }
  close(fd);
  return bad;
}

// Finds the core a case left in `dir` ("core", or "core.PID" with kernel.core_uses_pid),
// checks it and removes it. -1 if there is none or it cannot be read.
long check_core(const char* dir, const Outcome& o) {
  DIR* d = opendir(dir);
  if (d == nullptr) return -1;
  char path[600] = {};
  while (dirent* e = readdir(d))
    if (strncmp(e->d_name, "core", 4) == 0) snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
  closedir(d);
  if (path[0] == '\0') return -1;
  long bad = bad_pages_in_core(path, o.buffer);
  unlink(path);
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "handler") == 0) crash(true);
  if (argc > 1 && strcmp(argv[1], "abort") == 0) crash(false);

  ct::require_engine_environment("core_restore");
  char pattern[256] = {};
  int pf = open("/proc/sys/kernel/core_pattern", O_RDONLY | O_CLOEXEC);
  ssize_t pn = pf >= 0 ? read(pf, pattern, sizeof(pattern) - 1) : -1;
  if (pf >= 0) close(pf);
  if (pn <= 0 || pattern[0] == '|' || strchr(pattern, '/') != nullptr || strchr(pattern, '%') != nullptr) {
    printf("core_restore: SKIP: kernel.core_pattern is '%.*s', not a plain file name in the crashing process's directory\n",
           static_cast<int>(pn > 0 ? pn - 1 : 0), pattern);
    return TMC_TEST_SKIP;
  }
  // The cases run in another directory: this program by its absolute path.
  static char self[4096];
  ssize_t sn = readlink("/proc/self/exe", self, sizeof(self) - 1);
  REQUIRE(sn > 0, "readlink /proc/self/exe: %s", strerror(errno));
  self[sn] = '\0';
  char dir[] = "/tmp/tmc-core-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr, "mkdtemp: %s", strerror(errno));

  struct Case {
    const char* step;
    const char* mode;
    const char* env;
    int signal;
    bool complete;
  } cases[] = {
      {"a crash handler that resets to the default and raises again (Redis's)", "handler", "TMC_CORE_RESTORE=1", SIGSEGV, true},
      {"abort() with no handler", "abort", "TMC_CORE_RESTORE=1", SIGABRT, true},
      {"the same crash without TMC_CORE_RESTORE: evicted pages are missing from the core", "handler",
       "TMC_CORE_RESTORE=0", SIGSEGV, false},
  };
  for (const Case& c : cases) {
    tmc_test_step(c.step);
    Outcome o = run_case(self, c.mode, dir, c.env);
    CHECK(o.status != -1 && WIFSIGNALED(o.status) && WTERMSIG(o.status) == c.signal,
          "%s: the process did not die of signal %d (wait status %#x)", c.mode, c.signal, o.status);
    REQUIRE(strstr(o.report, "core limit 0\n") == nullptr, "RLIMIT_CORE's hard limit is 0: no core can be written");
    REQUIRE(o.status != -1 && WCOREDUMP(o.status), "%s: no core was dumped (wait status %#x)", c.mode, o.status);
    REQUIRE(o.present_before >= 0 && o.present_before <= static_cast<long>(kPages / 10),
            "%s: the buffer was not evicted before the crash (%ld pages present)", c.mode, o.present_before);
    if (strcmp(c.mode, "handler") == 0) {
      const char* first = strstr(o.report, "handler ran\n");
      CHECK(first != nullptr && strstr(first + 1, "handler ran\n") == nullptr,
            "the program's SIGSEGV handler did not run exactly once");
    }
    long bad = check_core(dir, o);
    printf("%s: %ld of %zu pages of the buffer missing or wrong in the core\n", c.mode, bad, kPages);
    if (c.complete) {
      CHECK(bad == 0, "%s: %ld of %zu pages of the buffer are missing or wrong in the core", c.mode, bad, kPages);
    } else {
      REQUIRE(bad > static_cast<long>(kPages / 2),
              "without TMC_CORE_RESTORE the core was complete anyway (%ld pages bad): this test cannot tell", bad);
    }
  }
  rmdir(dir);
  return tmc_test_finish("core_restore");
}
