// Invariant 5, fail open: where userfaultfd cannot be had, or the engine meets an internal
// error, the program runs on as a plain allocator, libtmc writes exactly one line to stderr
// saying why, and nothing (more) is evicted. The test runs this program again as a child
// (through posix_spawn, not fork, and a launcher that sets the scenario up and execs it; the
// launcher runs with TMC_COMPRESS=0 so that only the child's libtmc speaks), captures its
// stdout and stderr, and checks:
//  - control: root, compression on: the child does see evictions and libtmc says nothing
//    (so "no evictions" below is a real observation, not a child that cannot see them);
//  - unprivileged: as user nobody with vm.unprivileged_userfaultfd=0 (skipped if that
//    sysctl is 1 or this test is not root): one line naming userfaultfd, no evictions;
//  - seccomp: userfaultfd(2) and /dev/userfaultfd's USERFAULTFD_IOC_NEW refused (EPERM), as
//    in a container: one line, no evictions;
//  - internal error at start: UFFDIO_MOVE refused from the start: one line, no evictions;
//  - internal error mid-run: UFFDIO_MOVE refused (TSYNC filter) after pages were evicted:
//    one line, every byte still reads back right (compressed pages still served), the
//    program goes on allocating;
//  - TMC_COMPRESS=0: no evictions, no message at all.
// Each child fills 32 MiB of text records, allocates, reallocates, frees and forks a
// grandchild, verifying everything. Run with TMC_COLD_AGE=0 (children inherit it).
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "compress_test.h"

extern char** environ;

namespace {

using ct::kPage;

// ioctl numbers newer than some installed headers.
struct ct_uffdio_move {
  __u64 dst, src, len, mode;
  __s64 move;
};
constexpr unsigned long kUffdioMove = _IOWR(UFFDIO, 0x05, struct ct_uffdio_move);
constexpr unsigned long kUffdIocNew = _IO(UFFDIO, 0x00);

constexpr size_t kBlocks = 32, kBlockBytes = 1 << 20;

// --- the child -------------------------------------------------------------------------

std::vector<char*> g_blocks;

void fill_blocks(uint64_t gen) {
  for (size_t b = 0; b < g_blocks.size(); ++b) ct::fill_text(g_blocks[b], kBlockBytes, gen * 1000 + b);
}

size_t verify_blocks(uint64_t gen) {
  static char want[kBlockBytes];
  size_t bad = 0;
  for (size_t b = 0; b < g_blocks.size(); ++b) {
    ct::fill_text(want, kBlockBytes, gen * 1000 + b);
    if (memcmp(g_blocks[b], want, kBlockBytes) != 0) {
      if (bad++ < 4) ct::report_mismatch("child block", g_blocks[b], g_blocks[b], want, kBlockBytes);
    }
  }
  return bad;
}

// Allocation work a plain allocator must do right: churn of sizes, realloc, calloc, fork.
bool allocator_works() {
  void* keep[256] = {};
  ct::Rng rng(7);
  for (int i = 0; i < 20000; ++i) {
    int k = static_cast<int>(rng.below(256));
    free(keep[k]);
    size_t n = rng.size_between(8, 200000);
    keep[k] = rng.below(3) == 0 ? calloc(1, n) : malloc(n);
    if (keep[k] == nullptr) return false;
    memset(keep[k], k, n < 64 ? n : 64);
    if (rng.below(8) == 0) {
      void* q = realloc(keep[k], n * 2);
      if (q == nullptr) return false;
      keep[k] = q;
    }
  }
  for (void*& p : keep) free(p);
  return true;
}

bool grandchild_verifies(uint64_t gen) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) _exit(verify_blocks(gen) == 0 && allocator_works() ? 0 : 1);
  double end = ct::now_s() + 15;
  int st = 0;
  while (waitpid(pid, &st, WNOHANG) != pid) {
    if (ct::now_s() > end) {
      printf("grandchild hung\n");
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return false;
    }
    ct::sleep_ms(10);
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int install_filter(unsigned long ioctl_request, int ioctl_errno, bool block_syscall, bool tsync);

// Modes: "evicts" (compression must work), "none" (nothing may be evicted), "midway"
// (evicts, then UFFDIO_MOVE is refused: nothing more evicted, all data still right).
int child_main(const char* mode) {
  using Fn = int (*)();
  auto is_active = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "tmc_is_active"));
  if (ct::stats_fn() == nullptr || is_active == nullptr) {
    printf("child: libtmc is not preloaded\n");
    return 10;
  }
  for (size_t b = 0; b < kBlocks; ++b) {
    void* p = nullptr;
    if (posix_memalign(&p, kPage, kBlockBytes) != 0) return 11;
    g_blocks.push_back(static_cast<char*>(p));
  }
  fill_blocks(1);
  size_t pages = kBlocks * kBlockBytes / kPage;
  int rc = 0;
  if (strcmp(mode, "none") == 0) {
    // With TMC_COLD_AGE=0 a working engine evicts most of this within a fraction of a
    // second (the control run shows it); give it 1.5 s.
    ct::sleep_ms(1500);
    if (!allocator_works()) rc = 12;
    if (verify_blocks(1) != 0) rc = 13;
    if (!grandchild_verifies(1)) rc = 14;
    tmc_stats s = ct::stats();
    printf("child: active=%d evictions=%llu compressed_pages=%llu faults=%llu\n", is_active(),
           (unsigned long long)s.evictions, (unsigned long long)s.compressed_pages, (unsigned long long)s.faults);
    if (s.evictions != 0 || s.compressed_pages != 0) rc = 15;
    if (is_active() != 1 && getenv("TMC_ENABLE") == nullptr) rc = 16;  // still libtmc's allocator
    return rc;
  }
  // "evicts" and "midway": wait for the engine to evict half of the data.
  bool evicted = ct::wait_stats([&](const tmc_stats& s) { return s.evictions >= pages / 2; }, 15);
  tmc_stats s1 = ct::stats();
  printf("child: evictions=%llu (of %zu pages) after the wait\n", (unsigned long long)s1.evictions, pages);
  if (!evicted) return 20;
  if (strcmp(mode, "midway") == 0) {
    if (install_filter(kUffdioMove, EPERM, false, true) != 0) {
      printf("child: cannot install the TSYNC seccomp filter: %s\n", strerror(errno));
      return 21;
    }
    // New data (new pages to evict): the reclaimer meets the refused MOVE.
    for (size_t b = 0; b < kBlocks / 4; ++b) ct::fill_text(g_blocks[b], kBlockBytes, 2 * 1000 + b);
    ct::sleep_ms(1000);
    tmc_stats s2 = ct::stats();
    ct::sleep_ms(500);
    tmc_stats s3 = ct::stats();
    // Everything still reads back: the old data of the rest (faulted back), the new data.
    size_t bad = 0;
    static char want[kBlockBytes];
    for (size_t b = 0; b < kBlocks; ++b) {
      ct::fill_text(want, kBlockBytes, (b < kBlocks / 4 ? 2 : 1) * 1000 + b);
      if (memcmp(g_blocks[b], want, kBlockBytes) != 0) {
        ++bad;
        ct::report_mismatch("child block after the internal error", g_blocks[b], g_blocks[b], want, kBlockBytes);
      }
    }
    tmc_stats s4 = ct::stats();
    printf("child: evictions %llu -> %llu -> %llu after the error, faults while verifying %llu, bad blocks %zu\n",
           (unsigned long long)s1.evictions, (unsigned long long)s2.evictions, (unsigned long long)s3.evictions,
           (unsigned long long)(s4.faults - s3.faults), bad);
    if (bad) return 22;
    if (s4.faults == s3.faults) return 23;      // nothing was compressed any more: vacuous
    if (s3.evictions != s2.evictions) return 24;  // compression did not stop
    if (!allocator_works()) return 25;
    return 0;
  }
  if (verify_blocks(1) != 0) return 30;
  if (!allocator_works()) return 31;
  return 0;
}

// --- seccomp ---------------------------------------------------------------------------

// Refuses ioctl(fd, ioctl_request) with ioctl_errno, and userfaultfd(2) with EPERM if asked.
int install_filter(unsigned long ioctl_request, int ioctl_errno, bool block_syscall, bool tsync) {
  std::vector<sock_filter> f;
  auto stmt = [&](uint16_t code, uint32_t k) { f.push_back(BPF_STMT(code, k)); };
  auto jump = [&](uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { f.push_back(BPF_JUMP(code, k, jt, jf)); };
  const uint32_t allow = SECCOMP_RET_ALLOW;
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  stmt(BPF_RET | BPF_K, allow);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  if (block_syscall) {
    jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_userfaultfd, 0, 1);
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  }
  jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 1, 0);
  stmt(BPF_RET | BPF_K, allow);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]));  // low half
  jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(ioctl_request), 1, 0);
  stmt(BPF_RET | BPF_K, allow);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | static_cast<uint32_t>(ioctl_errno));
  sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return static_cast<int>(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, tsync ? SECCOMP_FILTER_FLAG_TSYNC : 0, &prog));
}

// --- the launcher: sets a scenario up, then execs the child ------------------------------

// The launcher itself runs with TMC_COMPRESS=0 (so that nothing it does, like dropping
// root, makes libtmc speak on the child's stderr); it restores the child's value, passed
// as "--compress=VALUE" or "--compress-unset", before exec.
int launcher_main(const char* scenario, const char* compress, char** child_argv) {
  if (strncmp(compress, "--compress=", 11) == 0) setenv("TMC_COMPRESS", compress + 11, 1);
  else unsetenv("TMC_COMPRESS");
  if (strcmp(scenario, "nobody") == 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
      printf("launcher: cannot become nobody: %s\n", strerror(errno));
      return 40;
    }
  } else if (strcmp(scenario, "seccomp") == 0) {
    if (install_filter(kUffdIocNew, EPERM, true, false) != 0) return 41;
  } else if (strcmp(scenario, "no-move") == 0) {
    if (install_filter(kUffdioMove, EPERM, false, false) != 0) return 42;
  }
  execv("/proc/self/exe", child_argv);
  printf("launcher: exec: %s\n", strerror(errno));
  return 43;
}

// --- the parent ------------------------------------------------------------------------

struct Run {
  int status = -1;
  std::string out, err;
};

// Runs this program as `--launch scenario -- --child mode` with extra environment entries.
Run run(const char* scenario, const char* mode, std::vector<std::string> extra_env) {
  int out[2], err[2];
  Run r;
  if (pipe(out) != 0 || pipe(err) != 0) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addclose(&fa, err[0]);
  std::string compress = getenv("TMC_COMPRESS") ? std::string("--compress=") + getenv("TMC_COMPRESS") : "--compress-unset";
  std::vector<std::string> env;
  for (const std::string& x : extra_env)
    if (x.rfind("TMC_COMPRESS=", 0) == 0) compress = "--compress=" + x.substr(13);
  extra_env.push_back("TMC_COMPRESS=0");  // for the launcher
  for (char** e = environ; *e; ++e) {
    bool overridden = false;
    for (const std::string& x : extra_env)
      if (strncmp(*e, x.c_str(), x.find('=') + 1) == 0) overridden = true;
    if (!overridden) env.emplace_back(*e);
  }
  for (const std::string& x : extra_env)
    if (x.rfind("TMC_COMPRESS=", 0) != 0) env.push_back(x);
  env.push_back("TMC_COMPRESS=0");
  std::vector<char*> envp;
  for (std::string& x : env) envp.push_back(x.data());
  envp.push_back(nullptr);
  std::string self = "/proc/self/exe";
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) self.assign(exe, static_cast<size_t>(n));
  std::vector<std::string> args = {self, "--launch", scenario, compress, self, "--child", mode};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    return r;
  }
  double end = ct::now_s() + 40;
  bool out_open = true, err_open = true;
  char buf[4096];
  while ((out_open || err_open) && ct::now_s() < end) {
    pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    if (poll(p, 2, 200) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t got = read(p[i].fd, buf, sizeof(buf));
      if (got > 0) (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(got));
      else (i == 0 ? out_open : err_open) = false;
    }
  }
  close(out[0]);
  close(err[0]);
  int st = 0;
  while (waitpid(pid, &st, WNOHANG) != pid) {
    if (ct::now_s() > end) {
      fprintf(stderr, "child of scenario %s did not finish in 40 s; killing it\n", scenario);
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      st = -1;
      break;
    }
    ct::sleep_ms(5);
  }
  r.status = st;
  return r;
}

std::vector<std::string> lines_with(const std::string& text, const char* needle) {
  std::vector<std::string> found;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (line.find(needle) != std::string::npos) found.push_back(line);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return found;
}

size_t count_lines(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  if (!text.empty() && text.back() != '\n') ++n;
  return n;
}

void show(const char* scenario, const Run& r) {
  printf("[%s] status 0x%x\n", scenario, r.status);
  printf("[%s] stdout: %s", scenario, r.out.empty() ? "(empty)\n" : "");
  if (!r.out.empty()) printf("\n%s", r.out.c_str());
  printf("[%s] stderr: %s", scenario, r.err.empty() ? "(empty)\n" : "");
  if (!r.err.empty()) printf("\n%s", r.err.c_str());
  fflush(stdout);
}

bool exited_ok(const Run& r) { return r.status >= 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0; }

// One scenario where compression must be off: the child ran fine, libtmc said exactly one
// thing on stderr and it contains `why`.
void expect_one_message(const char* scenario, const Run& r, const char* why) {
  show(scenario, r);
  CHECK(exited_ok(r), "[%s] the program did not run as a plain allocator (status 0x%x)", scenario, r.status);
  std::vector<std::string> msgs = lines_with(r.err, "libtmc");
  CHECK(msgs.size() == 1, "[%s] libtmc wrote %zu lines, not exactly one", scenario, msgs.size());
  CHECK(count_lines(r.err) == msgs.size(), "[%s] stderr holds %zu lines besides libtmc's", scenario, count_lines(r.err) - msgs.size());
  if (!msgs.empty()) CHECK(msgs[0].find(why) != std::string::npos, "[%s] the message does not mention '%s': %s", scenario, why, msgs[0].c_str());
}

int read_sysctl(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  int v = -1;
  if (fscanf(f, "%d", &v) != 1) v = -1;
  fclose(f);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "--child") == 0) return child_main(argv[2]);
  if (argc >= 6 && strcmp(argv[1], "--launch") == 0) return launcher_main(argv[2], argv[3], argv + 4);

  ct::require_engine_environment("compress_failopen");

  tmc_test_step("control: root, compression on: the child sees evictions, libtmc is silent");
  Run c = run("plain", "evicts", {});
  show("control", c);
  REQUIRE(exited_ok(c), "the control child did not see its pages evicted (status 0x%x)", c.status);
  CHECK(lines_with(c.err, "libtmc").empty(), "libtmc wrote to stderr although compression works");

  tmc_test_step("unprivileged (user nobody, vm.unprivileged_userfaultfd=0): one line, no evictions");
  struct stat dev {};
  bool dev_open_to_others = stat("/dev/userfaultfd", &dev) == 0 && (dev.st_mode & 0006) != 0;
  if (geteuid() != 0) {
    printf("skipped: not root\n");
  } else if (read_sysctl("/proc/sys/vm/unprivileged_userfaultfd") != 0) {
    printf("skipped: vm.unprivileged_userfaultfd is not 0\n");
  } else if (dev_open_to_others) {
    printf("skipped: /dev/userfaultfd is open to everyone\n");
  } else {
    Run u = run("nobody", "none", {});
    expect_one_message("nobody", u, "userfaultfd");
  }

  tmc_test_step("seccomp refuses userfaultfd(2) and USERFAULTFD_IOC_NEW: one line, no evictions");
  expect_one_message("seccomp", run("seccomp", "none", {}), "userfaultfd");

  tmc_test_step("internal error at start: UFFDIO_MOVE refused: one line, no evictions");
  expect_one_message("no-move", run("no-move", "none", {}), "UFFDIO_MOVE");

  tmc_test_step("internal error mid-run: compressed pages are still served, nothing more is evicted");
  expect_one_message("midway", run("plain", "midway", {}), "UFFDIO_MOVE");

  tmc_test_step("TMC_COMPRESS=0: no evictions, no message");
  Run off = run("plain", "none", {"TMC_COMPRESS=0"});
  show("TMC_COMPRESS=0", off);
  CHECK(exited_ok(off), "the child failed with TMC_COMPRESS=0 (status 0x%x)", off.status);
  CHECK(off.err.empty(), "stderr is not empty with TMC_COMPRESS=0");

  return tmc_test_finish("compress_failopen");
}
