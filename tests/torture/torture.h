// The torture harness (tests/torture/): one process, several threads doing everything a
// real program does to its heap, each byte checked against a model kept outside the heap.
//
// Pieces:
//   main.cc      options, start-up, the run, the final checks and the summary line
//   model.cc     buffers (slots), their models, MADV_FREE'd pages, verification, reports
//   ops.cc       what worker and short-lived threads do: memory, system calls, madvise,
//                name lookups, stdio
//   forks.cc     fork from any thread, the children's checks, fork+exec, posix_spawn
//   watchdog.cc  turns a hang into a failure that says what every thread was doing
//
// Memory rules. Everything the checks rely on (models, slot tables, counters, histories)
// lives in memory from mmap (or static storage), never from malloc: the heap is what is
// under test, and a model in the heap would be compressed, faulted and forked with it.
//
// Fork consistency. Each buffer has one owner thread; the owner sets the slot's `busy` marker
// before it changes the buffer or its model and clears it after, with full fences on both
// sides. fork() does not stop the other threads, but what a child sees of one thread's
// stores is a prefix of them in program order (a store either reached the page before the
// parent's page-table entry was write-protected and the TLBs flushed, and is in the child,
// or it faulted and waited for the fork to end, and so did every later store of that
// thread). So a child that sees busy == 0 sees the buffer equal to its model. The one
// exception, stores through pages pinned by get_user_pages (process_vm_writev), is kept
// out of forks by a lock (see forks.cc).
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "compress_test.h"  // ct::Rng, content generators, ct::stats()

namespace tt {

constexpr size_t kPage = 4096;

// Exit codes of the torture program.
constexpr int kExitPass = 0;
constexpr int kExitFail = 1;   // a mismatch or a failed check
constexpr int kExitUsage = 2;
constexpr int kExitHang = 3;   // the watchdog saw a thread stuck

// ---- hazard classes -----------------------------------------------------------------------

enum Hazard : uint32_t {
  kIo = 1u << 0,          // heap buffers through pipes, sockets, process_vm_*, pread/pwrite
  kMadvise = 1u << 1,     // MADV_DONTNEED / MADV_FREE through libc's (libtmc's) madvise
  kRawMadvise = 1u << 2,  // the same through syscall(SYS_madvise), bypassing libtmc
  kFork = 1u << 3,        // fork from any thread; the child verifies every quiet buffer
  kForkLive = 1u << 4,    // children that allocate, write and fork again before verifying
  kExec = 1u << 5,        // fork+exec of /bin/true, posix_spawn
  kNss = 1u << 6,         // getpwuid, getgrgid (and _r), getpwnam_r, getaddrinfo("localhost")
  kStdio = 1u << 7,       // fopen/fprintf/fflush/fclose from several threads
  kCloseFds = 1u << 8,    // children that close_range/closefrom every fd above 2, then verify
  kThreadExit = 1u << 9,  // children whose last thread ends with pthread_exit
  kChurn = 1u << 10,      // short-lived threads that allocate, verify, free and end
};

struct HazardInfo {
  Hazard bit;
  const char* name;
  const char* what;
};
extern const HazardInfo kHazards[];
extern const int kNumHazards;

struct Options {
  uint64_t seed = 0;
  double seconds = 10;
  int threads = 4;
  uint32_t hazards = 0;
  double watchdog_s = 90;       // a thread in one operation this long is a hang
  double child_timeout_s = 30;  // a child not done in this long is a hang (twice for a live one)
  bool allow_idle = false;      // do not require the engine to have evicted and faulted
};
extern Options g_opt;
inline bool on(Hazard h) { return (g_opt.hazards & h) != 0; }

// ---- buffers and their models ---------------------------------------------------------------

// What happened to a buffer; printed with a mismatch.
enum class Op : uint8_t {
  kMalloc, kCalloc, kAligned, kFree, kRealloc, kWrite, kWriteBytes, kCopy,
  kPipeIn, kStreamIn, kDgramIn, kMsgIn, kVmReadIn, kVmWriteIn, kFileIn,
  kDontneed, kDontneedRaw, kMadvFree, kMadvFreeRaw, kLazyKept, kLazyZero, kResync,
};
const char* op_name(Op op);

struct HistEntry {
  uint64_t version;  // the slot's version after this operation
  uint32_t t_ms;     // since the start of the run
  Op op;
  uint8_t aux8;      // fill kind for writes
  int16_t other;     // the other slot of a copy or an I/O, or -1
  uint64_t off, len;
  uintptr_t addr;    // the buffer's address at the time
};

constexpr int kHist = 24;
constexpr size_t kMaxBuf = 4u << 20;
constexpr int kLazyWords = static_cast<int>(kMaxBuf / kPage / 64);

enum SizeClass : uint8_t { kSmall, kMedium, kLarge };

struct Slot {
  std::atomic<uint32_t> busy{0};  // the owner is changing buf/model: a child skips it
  uint8_t cls = kSmall;
  char* buf = nullptr;
  size_t size = 0;
  char* model = nullptr;  // capacity: the class maximum
  // Pages (counted from the first page boundary inside buf) the application MADV_FREE'd and
  // has not written since: each reads either as the model or as zero, as a whole.
  uint64_t lazy[kLazyWords] = {};
  uint32_t nlazy = 0;
  uint64_t version = 0;
  uint32_t hist_next = 0;
  HistEntry hist[kHist] = {};
};

// The buffers of one owner: a worker thread, a short-lived thread, or a live child.
struct SlotSet {
  char label[32];
  Slot* slots;
  int n;
};

size_t class_min(SizeClass c);
size_t class_max(SizeClass c);
void* map_anon(size_t bytes);  // private anonymous memory, never from malloc; aborts on failure

// Sets up n slots with models for `label` (all in fresh mmap'd memory); classes are assigned
// from index: the first `large` are large, the next `medium` medium, the rest small.
void init_slot_set(SlotSet* set, const char* label, int n, int large, int medium);

// RAII busy marker around a mutation of one slot (see the fork consistency note above).
// Nests (a check inside a mutation may resynchronise the model): busy counts the levels.
// Only the owner writes it, so a plain load and store suffice.
class Mutation {
 public:
  explicit Mutation(Slot& s) : s_(s) {
    s_.busy.store(s_.busy.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  ~Mutation() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    s_.busy.store(s_.busy.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }
  Mutation(const Mutation&) = delete;
  Mutation& operator=(const Mutation&) = delete;

 private:
  Slot& s_;
};

void record(Slot& s, Op op, uint64_t off, uint64_t len, int other = -1, uint8_t aux8 = 0);

// Checks slot i of set against its model (MADV_FREE'd pages: model or zero). On a mismatch
// reports it (buffer, offset, expected and found bytes, history) and, when `resync`, takes
// the buffer's contents as the model from then on so that one fault is reported once.
// Returns the number of differing bytes. Counts bytes verified.
size_t verify_slot(SlotSet& set, int i, const char* when, bool resync);
// The same for [off, off+len) only (used right after a madvise).
size_t verify_range(SlotSet& set, int i, size_t off, size_t len, const char* when, bool resync);

// Makes every MADV_FREE'd page of the slot definite again (checks it reads as its model or
// zero, takes what it read as the model and writes the whole page, which makes the kernel
// keep it). Call inside a Mutation before anything that reads or partly writes the buffer.
void resolve_lazy(SlotSet& set, int i);

// Marks [off, off+len) (whole pages inside the buffer) MADV_FREE'd.
void mark_lazy(Slot& s, size_t off, size_t len);
// Clears the MADV_FREE marks of [off, off+len) (after MADV_DONTNEED or a full rewrite).
void clear_lazy(Slot& s, size_t off, size_t len);

// Offset in the buffer of its first page boundary, and how many whole pages it holds.
size_t first_page_off(const Slot& s);
size_t whole_pages(const Slot& s);

// ---- counters -----------------------------------------------------------------------------

struct Counters {
  std::atomic<uint64_t> ops{0}, bytes_verified{0}, verifies{0}, writes{0}, allocs{0}, callocs{0}, frees{0},
      reallocs{0}, copies{0};
  std::atomic<uint64_t> io_pipe{0}, io_stream{0}, io_dgram{0}, io_msg{0}, io_vm_read{0}, io_vm_write{0}, io_file{0};
  std::atomic<uint64_t> madv_dontneed{0}, madv_free{0}, raw_dontneed{0}, raw_free{0}, lazy_zero{0}, lazy_kept{0};
  std::atomic<uint64_t> child_max_ms{0};  // the slowest child, fork to reaping
  std::atomic<uint64_t> forks{0}, fork_verify{0}, fork_sample{0}, fork_live{0}, fork_closefds{0}, fork_threadexit{0}, execs{0}, spawns{0};
  std::atomic<uint64_t> nss{0}, stdio_files{0}, stdio_flush_all{0}, churn_threads{0}, handoffs{0};
  // Failures.
  std::atomic<uint64_t> mismatches{0}, bad_bytes{0}, calloc_dirty{0}, io_errors{0}, nss_errors{0}, stdio_errors{0},
      child_failures{0}, child_hangs{0}, other_failures{0};
};
extern Counters* g_count;

// Shared with every child (MAP_SHARED): what the children checked.
struct ChildTotals {
  std::atomic<uint64_t> verified{0};  // children that finished their check
  std::atomic<uint64_t> buffers{0}, bytes{0}, skipped_busy{0}, faults{0}, mismatches{0};
};
extern ChildTotals* g_child;

// ---- threads ------------------------------------------------------------------------------

// What each thread is doing, for the watchdog (watchdog.cc).
struct ThreadInfo {
  std::atomic<int> used{0};
  std::atomic<int> tid{0};
  char name[24];
  std::atomic<const char*> op{nullptr};
  std::atomic<uint64_t> op_since_ns{0};
  std::atomic<uint64_t> beats{0};
  std::atomic<int> child{0};  // the child pid it waits for, if any
};
ThreadInfo* thread_register(const char* name);
void thread_unregister(ThreadInfo* ti);
uint64_t mono_ns();
inline void set_op(ThreadInfo* ti, const char* op) {
  if (ti == nullptr) return;
  ti->op.store(op, std::memory_order_relaxed);
  ti->op_since_ns.store(mono_ns(), std::memory_order_relaxed);
  ti->beats.fetch_add(1, std::memory_order_relaxed);
}
void watchdog_start();
void watchdog_stop();
// Appends to out (NUL-terminated, at most n bytes) what each thread of process pid (0: this
// one) is doing: tid, name, the harness's operation (this process), state, kernel wait
// channel and the first stack_lines lines of its kernel stack. Never allocates.
void describe_tasks(pid_t pid, char* out, size_t n, int stack_lines);
// With TORTURE_DEBUG_PAUSE=SECONDS in the environment, waits that long (saying so) before a
// hung process or child is killed, so that a debugger can attach; otherwise returns at once.
void pause_for_debugger(pid_t pid);

// The closing line: seed, time, operations, bytes verified, forks, children, libtmc's stats
// (with_stats false: a hang where they cannot be read; they print as -1) and the result.
// Printed once.
void print_summary(const char* result, bool with_stats);
// Failures counted so far (all kinds): a child compares it before and after its work.
uint64_t failures_now();

struct Worker {
  int id = 0;
  SlotSet set{};
  ct::Rng rng{0};
  ThreadInfo* ti = nullptr;
  int pipe_fd[2] = {-1, -1};
  int stream[2] = {-1, -1};
  int dgram[2] = {-1, -1};
  int file_fd = -1;
  FILE* journal = nullptr;  // a long-lived stdio stream the worker appends to now and then
  // Streams open all run long (to /dev/null): their FILE objects lie about the heap, where
  // they are evicted, and fflush(NULL) walks them all under glibc's list lock.
  static constexpr int kIdleStreams = 24;
  FILE* idle[kIdleStreams] = {};
  uint64_t nops = 0;
  pthread_t thread{};
};
extern Worker* g_workers;  // g_opt.threads of them, in mmap'd memory
extern std::atomic<bool> g_stop;
extern double g_start_s;
extern char g_tmpdir[128];

void worker_setup(Worker& w, int id);  // fds, journal, slots (model memory)
void worker_teardown(Worker& w);       // checks and frees its buffers, closes its fds

// Operations on the buffers of one owner (ops.cc); the caller owns `set`.
void allocate_slot(SlotSet& set, int i, ct::Rng& r);  // inside a Mutation
void op_write(SlotSet& set, ct::Rng& r);
void op_verify(SlotSet& set, ct::Rng& r);
void op_free(SlotSet& set, ct::Rng& r);
void op_realloc(SlotSet& set, ct::Rng& r);
void op_copy(SlotSet& set, ct::Rng& r);
void op_madvise(SlotSet& set, ct::Rng& r, bool raw);
void op_io(Worker& w);
void op_nss(const char* who, ct::Rng& r);
// glibc's resolver keeps its configuration under a process-wide lock (resolv/resolv_conf.c)
// that fork() does not take or reset: a child forked while another thread is inside
// getaddrinfo inherits it locked, and any thread of the child that ends (thread freeres
// detaches the resolver state the forking thread had) waits for it forever. That is
// glibc's, with or without libtmc (longer faults only widen the window), and programs
// avoid it as this harness does: getaddrinfo holds this lock shared, and a fork whose child
// ends threads holds it exclusive around fork(). Every thread that ends takes glibc's lock
// too (thread freeres), so such a fork also waits until no churn thread is alive.
extern pthread_rwlock_t g_resolver_fork_lock;
void op_stdio(const char* who, ct::Rng& r, FILE* journal, FILE** idle, int nidle);
void release_slot_set(SlotSet& set);  // checks and frees every buffer, unmaps the models
void* worker_main(void* arg);
void* churn_main(void* arg);  // starts and reaps short-lived threads until g_stop
void* logger_main(void* arg);  // a stdio-heavy thread, with --hazards stdio
extern std::atomic<int> g_churn_alive;
// Forks whose child ends threads ask the churn starter (g_churn_quiesce > 0) to start no
// thread and join all it started; it says when none is left (g_churn_quiet).
extern std::atomic<int> g_churn_quiesce;
extern std::atomic<bool> g_churn_quiet;
// Workers that may still fork (set to the worker count before they start): at the end of
// the run threads end only once it is 0 (ops.cc, wait_no_worker_forks).
extern std::atomic<int> g_workers_forking;

// ---- forks (forks.cc) ---------------------------------------------------------------------

enum class ForkKind { kVerify, kSample, kCloseFds, kLive, kThreadExit, kExec, kSpawn };
const char* fork_kind_name(ForkKind k);
void forks_init();  // the pthread_atfork handlers
// Forks (or spawns) a child of the given kind from the calling thread and checks how it
// ended. owner >= 0 (a worker's id): the reaper thread waits for the child and the caller
// goes on; -1: the caller waits.
void do_fork(ForkKind kind, ct::Rng& rng, ThreadInfo* ti, int owner);
void reaper_start();
void reaper_stop();
void wait_own_children(int owner, ThreadInfo* ti);  // a worker, before it ends
// After the workers stopped: each rare operation of an enabled class that no worker picked
// (when every operation was slow, e.g. faults held two seconds each) runs once, from the
// calling thread, so that the run says something about every class it was asked for.
void run_rare_ops_not_run(ThreadInfo* ti);
// Held (shared) around process_vm_writev: see forks.cc.
void pinned_io_begin();
void pinned_io_end();

// stdio streams a child whose last thread calls pthread_exit must purge first (ops.cc).
void stdio_register(FILE* f);
void stdio_unregister(FILE* f);
void stdio_purge_all_in_child();

// ---- reporting ----------------------------------------------------------------------------

// Who is reporting: "parent" or "child of fork #N (kind)"; set in a child.
extern char g_role[96];
// Formats into a per-call buffer and writes it to stderr in one write, under a lock shared
// by the process's threads (reset in a child). Never allocates.
void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say_reset_lock_in_child();
// A failure that is not a buffer mismatch: counts it and says it.
void fail(std::atomic<uint64_t>& counter, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

double now_s();
inline uint32_t run_ms() { return static_cast<uint32_t>((now_s() - g_start_s) * 1000); }

}  // namespace tt
