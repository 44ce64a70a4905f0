// A process whose last application thread ends with pthread_exit (or whose last thread's
// start routine returns) exits with status 0, as POSIX says and glibc does: libtmc's own
// threads must not keep it alive. Each case runs in a process of its own, started with
// posix_spawn (no fork handlers in the test driver), and must end within a few seconds with
// status 0 after running its atexit handler, which reports on fd 3:
//
//   main_exit     main ends with pthread_exit; the atexit handler reads back a heap buffer
//                 that was evicted meanwhile (the fault thread still serves it)
//   thread_last   main ends with pthread_exit while a thread runs; that thread returns last
//   fork_thread   a thread forks; in the child that thread returns, so the child has no
//                 thread left and must exit (its parent checks it, then exits normally)
//
// Without the fix each case lingers forever with only tmc-* threads, ignoring SIGTERM.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "compress_test.h"

extern char** environ;

namespace {

constexpr int kReportFd = 3;
constexpr size_t kBufferBytes = 4 << 20;
constexpr uint64_t kSeed = 4242;
char* g_buffer = nullptr;

void report(const char* text) { (void)!write(kReportFd, text, strlen(text)); }

// atexit handlers of the cases.
void atexit_plain() { report("atexit ran\n"); }

void atexit_check_buffer() {
  static char want[ct::kPage];
  size_t bad = 0;
  for (size_t off = 0; off < kBufferBytes; off += ct::kPage) {
    ct::fill_text(want, ct::kPage, kSeed + off / ct::kPage);
    bad += memcmp(g_buffer + off, want, ct::kPage) != 0;
  }
  char line[96];
  snprintf(line, sizeof(line), "atexit ran, %zu of %zu pages differ\n", bad, kBufferBytes / ct::kPage);
  report(line);
}

[[noreturn]] void case_main_exit() {
  g_buffer = static_cast<char*>(malloc(kBufferBytes));
  for (size_t off = 0; off < kBufferBytes; off += ct::kPage)
    ct::fill_text(g_buffer + off, ct::kPage, kSeed + off / ct::kPage);
  long present = ct::wait_evicted(g_buffer, kBufferBytes, kBufferBytes / ct::kPage / 10, 20);
  char line[64];
  snprintf(line, sizeof(line), "present before exit %ld\n", present);
  report(line);
  atexit(atexit_check_buffer);
  pthread_exit(nullptr);
}

void* last_thread(void*) {
  ct::sleep_ms(200);  // main has ended by now
  report("thread returns\n");
  return nullptr;
}

[[noreturn]] void case_thread_last() {
  atexit(atexit_plain);
  pthread_t t;
  if (pthread_create(&t, nullptr, last_thread, nullptr) != 0) exit(2);
  pthread_exit(nullptr);
}

void* forker(void*) {
  pid_t pid = fork();
  if (pid == 0) {
    report("child thread returns\n");
    return nullptr;  // the child's only thread ends: the child must exit with status 0
  }
  int status = 0;
  for (int i = 0; i < 500; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      char line[64];
      snprintf(line, sizeof(line), "child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      report(line);
      return nullptr;
    }
    ct::sleep_ms(10);
  }
  report("child still alive after 5 s\n");
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return nullptr;
}

int case_fork_thread() {
  atexit(atexit_plain);  // inherited by the child: it runs there too
  pthread_t t;
  if (pthread_create(&t, nullptr, forker, nullptr) != 0) return 2;
  pthread_join(t, nullptr);
  return 0;
}

// Runs this program with `mode` and extra environment, waits up to 10 s, returns what it
// reported on fd 3 (in `out`) and its wait status (-1 if it had to be killed).
int run_case(const char* self, const char* mode, const char* extra_env, char* out, size_t out_size) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], kReportFd);
  static char* envp[256];
  int n = 0;
  size_t name_len = strcspn(extra_env, "=") + 1;  // the extra variable replaces an inherited one
  for (char** e = environ; *e != nullptr && n < 250; ++e)
    if (strncmp(*e, extra_env, name_len) != 0) envp[n++] = *e;
  envp[n++] = const_cast<char*>(extra_env);
  envp[n] = nullptr;
  char* argv[] = {const_cast<char*>(self), const_cast<char*>(mode), nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, self, &actions, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  REQUIRE(rc == 0, "posix_spawn: %s", strerror(rc));
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 1000 && !exited; ++i) {
    exited = waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) ct::sleep_ms(10);
  }
  if (!exited) {
    kill(pid, SIGTERM);  // what an operator would try first
    ct::sleep_ms(500);
    exited = waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) {
      fprintf(stderr, "%s: still alive 10 s after its last thread ended, and after SIGTERM\n", mode);
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      status = -1;
    }
  }
  size_t len = 0;
  ssize_t got;
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  while (len + 1 < out_size && (got = read(fds[0], out + len, out_size - 1 - len)) > 0) len += static_cast<size_t>(got);
  out[len] = '\0';
  close(fds[0]);
  printf("%s: status %d, reported:\n%s", mode, status, out);
  fflush(stdout);
  return status;
}

bool exited_zero(int status) { return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "main_exit") == 0) case_main_exit();
  if (argc > 1 && strcmp(argv[1], "thread_last") == 0) case_thread_last();
  if (argc > 1 && strcmp(argv[1], "fork_thread") == 0) return case_fork_thread();

  ct::require_engine_environment("last_thread_exit");
  char out[512];

  tmc_test_step("main ends with pthread_exit; atexit reads back an evicted buffer");
  int status = run_case(argv[0], "main_exit", "TMC_COLD_AGE=0", out, sizeof(out));
  CHECK(exited_zero(status), "the process did not exit with status 0 (wait status %d)", status);
  long present = -1;
  const char* p = strstr(out, "present before exit ");
  if (p != nullptr) present = strtol(p + strlen("present before exit "), nullptr, 10);
  CHECK(present >= 0 && present <= static_cast<long>(kBufferBytes / ct::kPage / 10),
        "the buffer was not evicted before main ended (%ld pages present)", present);
  CHECK(strstr(out, "atexit ran, 0 of") != nullptr, "the atexit handler did not run or read wrong data");

  tmc_test_step("main ends with pthread_exit; another thread returns last");
  status = run_case(argv[0], "thread_last", "TMC_COLD_AGE=0", out, sizeof(out));
  CHECK(exited_zero(status), "the process did not exit with status 0 (wait status %d)", status);
  CHECK(strstr(out, "thread returns\natexit ran\n") != nullptr, "the atexit handler did not run after the thread");

  tmc_test_step("a child forked from a thread whose start routine returns");
  status = run_case(argv[0], "fork_thread", "TMC_COLD_AGE=0", out, sizeof(out));
  CHECK(exited_zero(status), "the parent did not exit with status 0 (wait status %d)", status);
  CHECK(strstr(out, "child exited with 0") != nullptr, "the child did not exit with status 0");
  const char* child_atexit = strstr(out, "child thread returns\natexit ran\n");
  CHECK(child_atexit != nullptr, "the child's atexit handler did not run");
  CHECK(child_atexit != nullptr && strstr(child_atexit + 1, "atexit ran\n") != nullptr,
        "the parent's atexit handler did not run");
  return tmc_test_finish("last_thread_exit");
}
