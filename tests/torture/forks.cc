// Forks from any thread at any moment, and what the children check: every buffer that no
// thread was changing at fork time must read exactly as the model says (the model is part of
// the child's copy of memory, taken at the same moment). Children that close every descriptor
// first, children that live on (allocate, write, fork again), children whose last thread ends
// with pthread_exit and must then exit with status 0 by themselves; fork+exec and posix_spawn
// of /bin/true. A child that does not end in time is described and killed.
//
// A worker does not wait for its child: the reaper thread does, so the worker goes on
// changing its buffers while the child checks them (a child's check is slow: its first touch
// of each page is costly, more so when the page was evicted). At most kMaxPending children
// run at once. Short-lived threads and children wait for their own children themselves. Every
// child dies with the thread that forked it (PR_SET_PDEATHSIG), so a worker that stops waits
// for its children first.
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "torture.h"

extern char** environ;

namespace tt {

namespace {

// process_vm_writev copies into the destination through pages it pinned with
// get_user_pages, not through the page tables: the copy goes on after fork() has
// write-protected those pages, and fork gives a child its own copy of a pinned page at once.
// A child could then see the slot's busy marker cleared after the copy but the page from
// before it, a state the parent never had. So fork waits for those copies (the prepare
// handler takes the lock exclusively; pthread_atfork runs it before libtmc's, which libtmc
// registered earlier, so no fault is held back by libtmc's fork gate while we wait).
pthread_rwlock_t g_pinned;

void init_pinned_lock() {
  pthread_rwlockattr_t a;
  pthread_rwlockattr_init(&a);
  pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&g_pinned, &a);
  pthread_rwlockattr_destroy(&a);
}

void atfork_prepare() { pthread_rwlock_wrlock(&g_pinned); }
void atfork_parent() { pthread_rwlock_unlock(&g_pinned); }
void atfork_child() { init_pinned_lock(); }

// What one child reports, in memory shared with every child (indexed by fork number).
struct ForkRecord {
  std::atomic<uint64_t> fork_no{0};
  std::atomic<int> done{0};  // the child finished its check of the inherited buffers
  std::atomic<uint64_t> bad{0}, buffers{0}, skipped{0};
};
constexpr int kRecords = 1024;
ForkRecord* g_records;

// Exit codes of a child.
constexpr int kChildOk = 0;
constexpr int kChildMismatch = 1;  // inherited buffers differ from the model
constexpr int kChildInternal = 3;  // a system call the child needed failed
constexpr int kChildOther = 4;     // its own buffers, a calloc, or a grandchild failed
constexpr int kChildOrphan = 6;    // its parent was gone before it started
constexpr int kChildExecFailed = 127;

const char* child_exit_meaning(int code) {
  switch (code) {
    case kChildMismatch: return "inherited buffers differ from the parent's at fork time";
    case kChildInternal: return "a system call it needed failed";
    case kChildOther: return "its own buffers, a calloc or a grandchild failed";
    case kChildOrphan: return "its parent was gone";
    case kChildExecFailed: return "exec of /bin/true failed";
  }
  return "unexpected status";
}

void sleep_us(uint64_t us) {
  timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
  nanosleep(&ts, nullptr);
}

void child_start(const char* role, pid_t parent) {
  snprintf(g_role, sizeof(g_role), "%s", role);
  say_reset_lock_in_child();
  // The forking thread waits for this child; if that thread (or a hung child's killer) goes,
  // so does the child, and its own children after it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(kChildOrphan);
}

// Checks every quiet buffer of every worker against the model (or, with sample > 0, that
// many buffers picked at random); returns the buffers that differ.
uint64_t verify_inherited(ForkRecord* rec, int sample = 0, ct::Rng* r = nullptr) {
  tmc_stats before = ct::stats();
  uint64_t bad = 0, buffers = 0, skipped = 0, bytes = 0;
  auto check_one = [&](int t, int i) {
    SlotSet& set = g_workers[t].set;
    Slot& s = set.slots[i];
    if (s.busy.load(std::memory_order_relaxed) != 0) {
      ++skipped;
      return;
    }
    if (s.buf == nullptr) return;
    if (verify_slot(set, i, "in a forked child (must equal the parent's buffer at fork time)", false)) ++bad;
    ++buffers;
    bytes += s.size;
  };
  if (sample > 0) {
    for (int k = 0; k < sample; ++k) {
      int t = static_cast<int>(r->below(static_cast<uint64_t>(g_opt.threads)));
      check_one(t, static_cast<int>(r->below(static_cast<uint64_t>(g_workers[t].set.n))));
    }
  } else {
    for (int t = 0; t < g_opt.threads; ++t)
      for (int i = 0; i < g_workers[t].set.n; ++i) check_one(t, i);
  }
  tmc_stats after = ct::stats();
  g_child->buffers.fetch_add(buffers);
  g_child->bytes.fetch_add(bytes);
  g_child->skipped_busy.fetch_add(skipped);
  g_child->faults.fetch_add(after.faults - before.faults + after.fault_around_pages - before.fault_around_pages);
  g_child->mismatches.fetch_add(bad);
  g_child->verified.fetch_add(1);
  if (rec) {
    rec->bad.fetch_add(bad);
    rec->buffers.fetch_add(buffers);
    rec->skipped.fetch_add(skipped);
    rec->done.store(1);
  }
  return bad;
}

[[noreturn]] void child_exit(uint64_t bad, uint64_t failures_at_start) {
  _exit(bad ? kChildMismatch : failures_now() > failures_at_start ? kChildOther : kChildOk);
}

bool wait_child(pid_t pid, double timeout, ThreadInfo* ti, int* status, const char* what);

// fork+exec or posix_spawn of /bin/true; true when it exited 0.
bool run_true(bool spawn, ThreadInfo* ti) {
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  pid_t pid;
  if (spawn) {
    int rc = posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ);
    if (rc != 0) {
      fail(g_count->child_failures, "posix_spawn(/bin/true): %s", strerror(rc));
      return false;
    }
  } else {
    pid = fork();
    if (pid < 0) {
      fail(g_count->child_failures, "fork for exec: %s", strerror(errno));
      return false;
    }
    if (pid == 0) {
      execve("/bin/true", argv, environ);
      _exit(kChildExecFailed);
    }
  }
  int st = 0;
  const char* what = spawn ? "posix_spawn of /bin/true" : "fork+exec of /bin/true";
  if (!wait_child(pid, g_opt.child_timeout_s, ti, &st, what)) return false;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fail(g_count->child_failures, "%s: status 0x%x, expected exit 0", what, st);
    return false;
  }
  return true;
}

// A child that lives on: its own buffers, writes, frees, maybe a grandchild and an exec, for
// 50-300 ms, and only then the check of what it inherited. depth 1 is a child, 2 a grandchild.
[[noreturn]] void live_child(ct::Rng& r, int depth, ForkRecord* rec, uint64_t failures_at_start) {
  SlotSet local;
  init_slot_set(&local, depth == 1 ? "child-local" : "grandchild-local", 8, 1, 3);
  for (int i = 0; i < local.n; ++i) {
    Mutation m(local.slots[i]);
    allocate_slot(local, i, r);
  }
  double until = now_s() + 0.05 + static_cast<double>(r.below(250)) / 1000.0;
  pid_t grandchild = 0;
  while (now_s() < until) {
    uint64_t x = r.below(100);
    if (x < 40) op_write(local, r);
    else if (x < 55) op_verify(local, r);
    else if (x < 70) op_free(local, r);
    else if (x < 80) op_realloc(local, r);
    else if (x < 90) op_copy(local, r);
    else if (x < 95 && on(kMadvise)) op_madvise(local, r, false);
    else if (x < 97 && depth < 3 && grandchild == 0) {
      uint64_t seed = r.next();
      pid_t me = getpid();
      grandchild = fork();
      if (grandchild == 0) {
        char role[96];
        snprintf(role, sizeof(role), "%.60s, then its child", g_role);
        child_start(role, me);
        uint64_t base = failures_now();
        ct::Rng r2(seed);
        if (r2.below(3) == 0) live_child(r2, depth + 1, nullptr, base);
        // This process's parent is single-threaded between operations: none of its buffers
        // is mid-change.
        uint64_t bad = 0;
        for (int i = 0; i < local.n; ++i) bad += verify_slot(local, i, "in a grandchild (its parent's own buffer)", false) != 0;
        bad += verify_inherited(nullptr);
        child_exit(bad, base);
      }
      if (grandchild < 0) {
        fail(g_count->other_failures, "fork in a live child: %s", strerror(errno));
        grandchild = 0;
      }
    } else if (x < 98 && on(kExec)) {
      run_true(r.below(2) == 0, nullptr);
    }
  }
  if (grandchild > 0) {
    int st = 0;
    if (wait_child(grandchild, g_opt.child_timeout_s, nullptr, &st, "a live child's own child") &&
        !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
      fail(g_count->child_failures, "a live child's own child ended with status 0x%x (%s)", st,
           WIFEXITED(st) ? child_exit_meaning(WEXITSTATUS(st)) : "killed by a signal");
  }
  for (int i = 0; i < local.n; ++i) {
    Mutation m(local.slots[i]);
    verify_slot(local, i, "at the end of a live child", false);
  }
  uint64_t bad = verify_inherited(rec);
  child_exit(bad, failures_at_start);
}

void* threadexit_helper(void* arg) {
  verify_inherited(static_cast<ForkRecord*>(arg));
  stdio_purge_all_in_child();
  return nullptr;  // the last thread returns: the process exits with status 0
}

[[noreturn]] void child_main(ForkKind kind, uint64_t no, uint64_t seed, pid_t parent, ForkRecord* rec) {
  char role[96];
  snprintf(role, sizeof(role), "child of fork #%llu (%s)", static_cast<unsigned long long>(no), fork_kind_name(kind));
  child_start(role, parent);
  uint64_t base = failures_now();
  ct::Rng r(seed);
  switch (kind) {
    case ForkKind::kCloseFds: {
      // As daemons and fork+exec helpers do. libtmc's own descriptors go too.
      uint64_t how = r.below(3);
      int rc = 0;
      if (how == 0) rc = close_range(3, ~0U, 0);
      else if (how == 1) closefrom(3);
      else rc = static_cast<int>(syscall(SYS_close_range, 3, ~0U, 0));
      if (rc != 0) {
        fail(g_count->other_failures, "close_range(3, ~0U, 0): %s", strerror(errno));
        _exit(kChildInternal);
      }
      uint64_t bad = verify_inherited(rec);
      if (bad == 0 && failures_now() == base && r.below(2) == 0) {
        char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
        execve("/bin/true", argv, environ);
        _exit(kChildExecFailed);
      }
      child_exit(bad, base);
    }
    case ForkKind::kLive:
      live_child(r, 1, rec, base);
    case ForkKind::kThreadExit: {
      // Either the forking thread itself ends with pthread_exit after its check, or it starts
      // a thread for the check and ends at once, and that thread's return is the last. Both
      // must end the process with status 0 (it exits through exit(0): see stdio_register).
      if (r.below(2) == 0) {
        threadexit_helper(rec);
        pthread_exit(nullptr);
      }
      pthread_t t;
      if (pthread_create(&t, nullptr, threadexit_helper, rec) != 0) _exit(kChildInternal);
      pthread_exit(nullptr);
    }
    case ForkKind::kSample:
      child_exit(verify_inherited(rec, 4, &r), base);
    case ForkKind::kVerify:
    default:
      child_exit(verify_inherited(rec), base);
  }
}

// How long the slowest child took, for the summary: the timeouts must stay well above it.
void note_child_time(double started) {
  uint64_t ms = static_cast<uint64_t>((now_s() - started) * 1000);
  uint64_t cur = g_count->child_max_ms.load();
  while (ms > cur && !g_count->child_max_ms.compare_exchange_weak(cur, ms)) {
  }
}

bool wait_child(pid_t pid, double timeout, ThreadInfo* ti, int* status, const char* what) {
  if (ti) ti->child.store(pid);
  double start = now_s(), end = start + timeout;
  uint64_t nap = 100;
  for (;;) {
    pid_t got = waitpid(pid, status, WNOHANG);
    if (got == pid) break;
    if (got < 0 && errno != EINTR) {
      fail(g_count->child_failures, "waitpid(%d) for %s: %s", static_cast<int>(pid), what, strerror(errno));
      if (ti) ti->child.store(0);
      return false;
    }
    if (now_s() > end) {
      static thread_local char text[16384];
      text[0] = 0;
      describe_tasks(pid, text, sizeof(text), 12);
      fail(g_count->child_hangs, "%s: child %d still running after %.0f s; killing it. Its threads:\n%s", what,
           static_cast<int>(pid), timeout, text);
      pause_for_debugger(pid);
      kill(pid, SIGKILL);
      waitpid(pid, status, 0);
      if (ti) ti->child.store(0);
      return false;
    }
    sleep_us(nap);
    if (nap < 10000) nap *= 2;
  }
  note_child_time(start);
  if (ti) ti->child.store(0);
  return true;
}

}  // namespace

const char* fork_kind_name(ForkKind k) {
  switch (k) {
    case ForkKind::kVerify: return "verifies";
    case ForkKind::kSample: return "verifies 4 buffers";
    case ForkKind::kCloseFds: return "closes every fd, then verifies";
    case ForkKind::kLive: return "lives on, then verifies";
    case ForkKind::kThreadExit: return "verifies, its last thread calls pthread_exit";
    case ForkKind::kExec: return "fork+exec /bin/true";
    case ForkKind::kSpawn: return "posix_spawn /bin/true";
  }
  return "?";
}

void forks_init() {
  init_pinned_lock();
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  void* p = mmap(nullptr, sizeof(ForkRecord) * kRecords, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    fail(g_count->other_failures, "mmap of the fork records: %s", strerror(errno));
    _exit(kExitFail);
  }
  g_records = static_cast<ForkRecord*>(p);
  for (int i = 0; i < kRecords; ++i) new (&g_records[i]) ForkRecord();
}

void pinned_io_begin() { pthread_rwlock_rdlock(&g_pinned); }
void pinned_io_end() { pthread_rwlock_unlock(&g_pinned); }

namespace {

// Says what went wrong with a child that ended (status st).
void judge(ForkKind kind, const char* what, int st, ForkRecord* rec) {
  if (WIFSIGNALED(st)) {
    fail(g_count->child_failures, "%s: killed by signal %d (%s)", what, WTERMSIG(st), strsignal(WTERMSIG(st)));
  } else if (WEXITSTATUS(st) != 0) {
    fail(g_count->child_failures, "%s: exit status %d: %s", what, WEXITSTATUS(st), child_exit_meaning(WEXITSTATUS(st)));
  } else if (!rec->done.load()) {
    fail(g_count->child_failures, "%s: exited 0 without finishing its check", what);
  } else if (rec->bad.load() != 0) {
    fail(g_count->child_failures, "%s: %llu inherited buffers differ", what, static_cast<unsigned long long>(rec->bad.load()));
  }
  (void)kind;
}

void say_if_checked_but_alive(ForkKind kind, uint64_t no, ForkRecord* rec) {
  if (kind == ForkKind::kThreadExit && rec->done.load())
    say("  (fork #%llu: the child had finished its check; it did not exit after its last thread ended)\n",
        static_cast<unsigned long long>(no));
}

constexpr int kMaxPending = 4;

// A child a worker forked, waited for by the reaper.
struct Pending {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 running
  pid_t pid = 0;
  ForkKind kind = ForkKind::kVerify;
  uint64_t no = 0;
  int owner = -1;
  double started = 0, deadline = 0;
  ForkRecord* rec = nullptr;
  char what[128] = "";
};
Pending g_pending[kMaxPending];
std::atomic<bool> g_reaper_stop{false};
pthread_t g_reaper;

void* reaper_main(void*) {
  ThreadInfo* ti = thread_register("reaper");
  static char text[16384];
  while (!g_reaper_stop.load()) {
    set_op(ti, "waiting for children");
    for (Pending& p : g_pending) {
      if (p.state.load() != 2) continue;
      int st = 0;
      pid_t got = waitpid(p.pid, &st, WNOHANG);
      if (got == p.pid) {
        note_child_time(p.started);
        judge(p.kind, p.what, st, p.rec);
      } else if (got < 0 && errno != EINTR) {
        fail(g_count->child_failures, "waitpid(%d) for %s: %s", static_cast<int>(p.pid), p.what, strerror(errno));
      } else if (now_s() > p.deadline) {
        text[0] = 0;
        describe_tasks(p.pid, text, sizeof(text), 12);
        fail(g_count->child_hangs, "%s: child %d still running after %.0f s; killing it. Its threads:\n%s", p.what,
             static_cast<int>(p.pid), p.deadline - p.started, text);
        say_if_checked_but_alive(p.kind, p.no, p.rec);
        pause_for_debugger(p.pid);
        kill(p.pid, SIGKILL);
        waitpid(p.pid, &st, 0);
      } else {
        continue;
      }
      p.state.store(0);
    }
    sleep_us(2000);
  }
  set_op(ti, "stopped");
  return nullptr;
}

// A free entry, waiting while kMaxPending children run.
Pending* claim_pending(ThreadInfo* ti) {
  set_op(ti, "waiting for room among the running children");
  for (;;) {
    for (Pending& p : g_pending) {
      int free_entry = 0;
      if (p.state.compare_exchange_strong(free_entry, 1)) return &p;
    }
    sleep_us(2000);
  }
}

}  // namespace

void reaper_start() { pthread_create(&g_reaper, nullptr, reaper_main, nullptr); }

void reaper_stop() {
  g_reaper_stop.store(true);
  pthread_join(g_reaper, nullptr);
}

void wait_own_children(int owner, ThreadInfo* ti) {
  set_op(ti, "waiting for its children to end");
  for (;;) {
    bool any = false;
    for (Pending& p : g_pending) any |= p.state.load() != 0 && p.owner == owner;
    if (!any) return;
    sleep_us(2000);
  }
}

void do_fork(ForkKind kind, ct::Rng& r, ThreadInfo* ti, int owner) {
  if (kind == ForkKind::kExec || kind == ForkKind::kSpawn) {
    set_op(ti, fork_kind_name(kind));
    if (kind == ForkKind::kExec) g_count->forks.fetch_add(1);
    if (run_true(kind == ForkKind::kSpawn, ti)) (kind == ForkKind::kExec ? g_count->execs : g_count->spawns).fetch_add(1);
    return;
  }
  Pending* pending = owner >= 0 ? claim_pending(ti) : nullptr;
  uint64_t no = g_count->forks.fetch_add(1) + 1;
  if (kind == ForkKind::kVerify) g_count->fork_verify.fetch_add(1);
  if (kind == ForkKind::kSample) g_count->fork_sample.fetch_add(1);
  if (kind == ForkKind::kLive) g_count->fork_live.fetch_add(1);
  if (kind == ForkKind::kCloseFds) g_count->fork_closefds.fetch_add(1);
  if (kind == ForkKind::kThreadExit) g_count->fork_threadexit.fetch_add(1);
  ForkRecord* rec = &g_records[no % kRecords];
  rec->fork_no.store(no);
  rec->done.store(0);
  rec->bad.store(0);
  rec->buffers.store(0);
  rec->skipped.store(0);
  uint64_t seed = r.next();
  pid_t parent = getpid();
  set_op(ti, "fork()");
  const bool child_ends_threads = kind == ForkKind::kThreadExit;
  if (child_ends_threads) {
    g_churn_quiesce.fetch_add(1);
    // After the stop too: the churn starter says quiet once its last thread has ended.
    while (on(kChurn) && !g_churn_quiet.load()) sleep_us(500);
    pthread_rwlock_wrlock(&g_resolver_fork_lock);
  }
  pid_t pid = fork();
  if (child_ends_threads) {
    pthread_rwlock_unlock(&g_resolver_fork_lock);  // in both processes
    if (pid != 0) g_churn_quiesce.fetch_sub(1);
  }
  if (pid < 0) {
    fail(g_count->child_failures, "fork #%llu: %s", static_cast<unsigned long long>(no), strerror(errno));
    if (pending) pending->state.store(0);
    return;
  }
  if (pid == 0) child_main(kind, no, seed, parent, rec);
  char what[128];
  snprintf(what, sizeof(what), "fork #%llu (child %s)", static_cast<unsigned long long>(no), fork_kind_name(kind));
  if (pending) {
    pending->pid = pid;
    pending->kind = kind;
    pending->no = no;
    pending->owner = owner;
    // A live child may itself wait a whole timeout for its own child.
    pending->started = now_s();
    pending->deadline = pending->started + g_opt.child_timeout_s * (kind == ForkKind::kLive ? 2 : 1);
    pending->rec = rec;
    snprintf(pending->what, sizeof(pending->what), "%s", what);
    pending->state.store(2);
    return;
  }
  set_op(ti, kind == ForkKind::kThreadExit ? "wait for a child that ends with pthread_exit" : "wait for a child");
  int st = 0;
  if (!wait_child(pid, g_opt.child_timeout_s * (kind == ForkKind::kLive ? 2 : 1), ti, &st, what)) {
    say_if_checked_but_alive(kind, no, rec);
    return;
  }
  judge(kind, what, st, rec);
}

}  // namespace tt
