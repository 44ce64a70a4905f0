// The watchdog: a thread that turns a hang into a failure. Every thread of the harness says
// what it is doing (set_op); when one has been in the same operation longer than
// --watchdog seconds, or the run overstays its time by as much, the watchdog writes what
// every thread is doing (the harness's operation, the kernel's state, wait channel and stack,
// libtmc's threads included) and what any child being waited for is doing, prints the summary
// line and exits with kExitHang. It never allocates and writes with write(2) directly: the
// hang may be inside malloc, or a thread may hold the lock of say().
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdlib>
#include <cstring>

#include "torture.h"

namespace tt {

namespace {

constexpr int kMaxThreads = 64;
ThreadInfo g_threads[kMaxThreads];
std::atomic<bool> g_watch_stop{false};
pthread_t g_watchdog;

struct Dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

// Reads a small /proc file into buf (NUL-terminated); false if it cannot.
bool read_small(const char* path, char* buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t got = read(fd, buf, n - 1);
  close(fd);
  if (got < 0) return false;
  buf[got] = 0;
  return true;
}

struct Out {
  char* p;
  size_t n, len = 0;
  void add(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (len + 1 >= n) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(p + len, n - len, fmt, ap);
    va_end(ap);
    if (k > 0) len += static_cast<size_t>(k) < n - len ? static_cast<size_t>(k) : n - len - 1;
  }
};

const ThreadInfo* info_of(int tid) {
  for (const ThreadInfo& t : g_threads)
    if (t.used.load() && t.tid.load() == tid) return &t;
  return nullptr;
}

void write_all(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(2, p, n);
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

[[noreturn]] void on_late_alarm(int) {
  static const char msg[] = "torture: libtmc's statistics did not come within 5 s of the hang\n";
  write_all(msg, sizeof(msg) - 1);
  print_summary("HANG", false);
  _exit(kExitHang);
}

[[noreturn]] void hang(const ThreadInfo* culprit, double stuck_s) {
  static char text[1 << 17];
  Out o{text, sizeof(text)};
  if (culprit)
    o.add("\nHANG (pid %d, +%.1fs): thread %s (tid %d) has been in '%s' for %.1f s (watchdog %.0f s); seed %llu\n",
          static_cast<int>(getpid()), now_s() - g_start_s, culprit->name, culprit->tid.load(), culprit->op.load(), stuck_s,
          g_opt.watchdog_s, static_cast<unsigned long long>(g_opt.seed));
  else
    o.add("\nHANG (pid %d, +%.1fs): the run has not ended %.0f s after its end; seed %llu\n", static_cast<int>(getpid()),
          now_s() - g_start_s, g_opt.watchdog_s, static_cast<unsigned long long>(g_opt.seed));
  // The thread named above is only the one longest in its operation; a fork() that does not
  // return is usually the cause of the rest.
  for (const ThreadInfo& t : g_threads) {
    uint64_t since = t.op_since_ns.load();
    const char* op = t.op.load();
    if (t.used.load() && since && op && strcmp(op, "fork()") == 0)
      o.add("  %s (tid %d) has been in fork() for %.1f s\n", t.name, t.tid.load(),
            static_cast<double>(mono_ns() - since) * 1e-9);
  }
  o.add("threads of this process:\n");
  write_all(text, o.len);
  describe_tasks(0, text, sizeof(text), 16);
  write_all(text, strlen(text));
  for (const ThreadInfo& t : g_threads) {
    int child = t.child.load();
    if (!t.used.load() || child == 0) continue;
    o.len = 0;
    o.add("threads of child %d, which %s waits for:\n", child, t.name);
    write_all(text, o.len);
    describe_tasks(child, text, sizeof(text), 16);
    write_all(text, strlen(text));
  }
  pause_for_debugger(getpid());
  // The summary reads libtmc's statistics, which may wait on whatever hangs: bounded.
  signal(SIGALRM, on_late_alarm);
  alarm(5);
  print_summary("HANG", true);
  _exit(kExitHang);
}

void* watchdog_main(void*) {
  double limit_ns = g_opt.watchdog_s * 1e9;
  while (!g_watch_stop.load()) {
    timespec ts{0, 200 * 1000 * 1000};
    nanosleep(&ts, nullptr);
    // The thread longest in one operation is named; the dump shows the others.
    uint64_t now = mono_ns();
    const ThreadInfo* worst = nullptr;
    uint64_t worst_age = 0;
    for (const ThreadInfo& t : g_threads) {
      if (!t.used.load()) continue;
      uint64_t since = t.op_since_ns.load();
      if (since != 0 && now > since && now - since > worst_age) worst = &t, worst_age = now - since;
    }
    if (worst && static_cast<double>(worst_age) > limit_ns) hang(worst, static_cast<double>(worst_age) * 1e-9);
    if (now_s() > g_start_s + g_opt.seconds + g_opt.watchdog_s) hang(nullptr, 0);
  }
  return nullptr;
}

}  // namespace

ThreadInfo* thread_register(const char* name) {
  for (ThreadInfo& t : g_threads) {
    int free_slot = 0;
    if (!t.used.compare_exchange_strong(free_slot, 2)) continue;  // 2: being filled in
    snprintf(t.name, sizeof(t.name), "%s", name);
    t.tid.store(static_cast<int>(syscall(SYS_gettid)));
    t.child.store(0);
    t.op.store("start");
    t.op_since_ns.store(mono_ns());
    t.used.store(1);
    return &t;
  }
  return nullptr;  // more threads than entries: this one goes unwatched
}

void thread_unregister(ThreadInfo* ti) {
  if (ti == nullptr) return;
  ti->op_since_ns.store(0);
  ti->used.store(0);
}

void describe_tasks(pid_t pid, char* out, size_t n, int stack_lines) {
  Out o{out, n};
  out[0] = 0;
  char path[96];
  if (pid == 0) snprintf(path, sizeof(path), "/proc/self/task");
  else snprintf(path, sizeof(path), "/proc/%d/task", static_cast<int>(pid));
  int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    o.add("  (cannot open %s: %s)\n", path, strerror(errno));
    return;
  }
  alignas(8) char buf[4096];
  for (;;) {
    long got = syscall(SYS_getdents64, dir, buf, sizeof(buf));
    if (got <= 0) break;
    for (long off = 0; off < got;) {
      auto* d = reinterpret_cast<Dirent64*>(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] == '.') continue;
      char comm[64] = "?", stat[512] = "", wchan[128] = "?", stack[4096] = "";
      char p[160];
      snprintf(p, sizeof(p), "%s/%s/comm", path, d->d_name);
      read_small(p, comm, sizeof(comm));
      if (char* nl = strchr(comm, '\n')) *nl = 0;
      snprintf(p, sizeof(p), "%s/%s/stat", path, d->d_name);
      read_small(p, stat, sizeof(stat));
      snprintf(p, sizeof(p), "%s/%s/wchan", path, d->d_name);
      read_small(p, wchan, sizeof(wchan));
      snprintf(p, sizeof(p), "%s/%s/stack", path, d->d_name);
      read_small(p, stack, sizeof(stack));
      const char* paren = strrchr(stat, ')');
      char state = paren && paren[1] && paren[2] ? paren[2] : '?';
      int tid = atoi(d->d_name);
      o.add("  tid %d %-16s state %c wchan %s", tid, comm, state, wchan[0] ? wchan : "-");
      if (pid == 0) {
        if (const ThreadInfo* t = info_of(tid)) {
          uint64_t since = t->op_since_ns.load();
          o.add("  [%s: '%s' for %.1f s]", t->name, t->op.load(),
                since ? static_cast<double>(mono_ns() - since) * 1e-9 : 0.0);
        }
      }
      o.add("\n");
      int lines = 0;
      for (char* line = stack; *line && lines < stack_lines; ++lines) {
        char* nl = strchr(line, '\n');
        if (nl) *nl = 0;
        o.add("      %s\n", line);
        if (!nl) break;
        line = nl + 1;
      }
    }
  }
  close(dir);
}

void watchdog_start() { pthread_create(&g_watchdog, nullptr, watchdog_main, nullptr); }

void watchdog_stop() {
  g_watch_stop.store(true);
  pthread_join(g_watchdog, nullptr);
}

void pause_for_debugger(pid_t pid) {
  const char* v = getenv("TORTURE_DEBUG_PAUSE");
  int seconds = v ? atoi(v) : 0;
  if (seconds <= 0) return;
  char line[160];
  int n = snprintf(line, sizeof(line), "torture: pausing %d s for a debugger: gdb -p %d\n", seconds, static_cast<int>(pid));
  write_all(line, static_cast<size_t>(n));
  sleep(static_cast<unsigned>(seconds));
}

}  // namespace tt
