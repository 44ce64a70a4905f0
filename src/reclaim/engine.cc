// See engine.h: start-up of the engine, the fork protocol, the purge-hook handshake and
// the engine's statistics.
#include "reclaim/engine.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "control/options.h"
#include "platform/env.h"
#include "platform/fd_table.h"
#include "platform/libc_threads.h"
#include "platform/mm.h"
#include "platform/uffd_compat.h"

namespace tmc::reclaim {
namespace {

using control::OptionId;

// Never destroyed: pages stay evicted until the process ends, so the fault thread serves
// them after static destructors have run (a program's exit path touches its heap too).
union EngineStorage {
  Engine engine;
  constexpr EngineStorage() : engine() {}
  ~EngineStorage() {}
};
constinit EngineStorage g_storage;
Engine& g_engine = g_storage.engine;

// Features: MOVE for atomic eviction, REMOVE/UNMAP/REMAP so purged memory never comes back
// with old contents, FORK so children are served their evicted pages lazily (without it,
// which is the case without CAP_SYS_PTRACE, fork() brings them all back first: prefork),
// THREAD_ID for the fault statistics.
constexpr uint64_t kRequired = UFFD_FEATURE_MOVE | UFFD_FEATURE_EVENT_REMOVE;
constexpr uint64_t kWanted = kRequired | UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_UNMAP |
                             UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_THREAD_ID;

pthread_mutex_t g_fork_lock = PTHREAD_MUTEX_INITIALIZER;
int g_child_end = -1;  // the child's end of the fork hand-over socket, between prefork and postfork

// Whether libtmc's threads keep their descriptors in tables of their own
// (platform/fd_table.h), decided at start: the application's table then holds none of
// libtmc's descriptors once the engine's threads run.
bool g_private_fds = false;

// The thread spawn() is starting (one at a time: start-up, or a forked child's postfork).
struct Starting {
  void* (*body)(void*) = nullptr;
  std::atomic<int> state{0};  // 1: running with a private table (or none wanted), 2: unshare failed
};
Starting g_starting;

void* thread_start(void*) {
  void* (*body)(void*) = g_starting.body;
  int state = 1;
  if (g_private_fds) {
    // The userfaultfd, and in a forked child the files of the file tier the fork passed on.
    int keep[1 + pool::FileStore::kMaxGenerations];
    keep[0] = g_engine.uffd_.fd();
    const int n = 1 + g_engine.files_.fork_fds(keep + 1, pool::FileStore::kMaxGenerations);
    if (platform::make_private_fd_table(keep, n) == 0) log::use_application_stderr();
    else state = 2;
  }
  g_starting.state.store(state, std::memory_order_release);
  return body(&g_engine);
}

// The engine's threads get stacks of their own, mapped here: glibc would otherwise hand them
// a cached stack of an exited thread and touch that thread's TLS vector, which lives in the
// heap and may be evicted (in a forked child, before any fault thread runs). spawn() returns
// once the thread has its own descriptor table.
bool spawn(void* (*body)(void*), const char* name) {
  constexpr size_t kStack = 256 * 1024;
  void* stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return false;
  g_starting.body = body;
  g_starting.state.store(0, std::memory_order_relaxed);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstack(&attr, stack, kStack);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, thread_start, nullptr);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) {
    munmap(stack, kStack);
    return false;
  }
  platform::uncount_own_thread();  // it must not keep the process alive (libc_threads.h)
  pthread_setname_np(thread, name);
  int state = 0;
  for (int i = 0; i < 100000 && (state = g_starting.state.load(std::memory_order_acquire)) == 0; ++i) {
    timespec ts{0, 50000};
    nanosleep(&ts, nullptr);
  }
  if (state != 1 && g_private_fds) {
    // This thread shares the application's table after all: so must the descriptors.
    g_private_fds = false;
    g_engine.files_.set_private_tables(false);
    log::warn().str("a libtmc thread could not get a descriptor table of its own; a program closing every descriptor would lose its compressed pages").flush();
  }
  return true;
}

// Once the engine's threads hold the userfaultfd in their own tables, the application's
// table lets go of it: the number is the application's again.
void release_app_copy_of_uffd() {
  if (g_private_fds) ::close(g_engine.uffd_.fd());
}

// Sends fd over the fork hand-over socket.
bool send_fd(int sock, int fd) {
  char byte = 'u';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(sock, &m, MSG_NOSIGNAL) == 1;
}

void start_reclaimer() {
  // The fault thread alone is harmless: nothing is evicted without the reclaimer.
  if (!spawn(reclaimer_main, "tmc-reclaim"))
    log::warn().str("cannot start the reclaimer thread; nothing will be compressed").flush();
}

// Waits until `sock` can be read, for up to timeout_ms. A signal does not cut the wait
// short: the forking thread of a program is often the one that gets SIGCHLD, and a
// hand-over given up early would leave a child without anyone serving its faults.
bool wait_readable(int sock, int timeout_ms) {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const int64_t deadline_ms = now.tv_sec * 1000ll + now.tv_nsec / 1000000 + timeout_ms;
  for (;;) {
    pollfd p{sock, POLLIN, 0};
    int n = poll(&p, 1, timeout_ms);
    if (n == 1) return true;
    if (n == 0 || errno != EINTR) return false;
    clock_gettime(CLOCK_MONOTONIC, &now);
    timeout_ms = static_cast<int>(std::max<int64_t>(0, deadline_ms - (now.tv_sec * 1000ll + now.tv_nsec / 1000000)));
  }
}

// One byte over the fork hand-over socket, and waiting for one (false after timeout_ms).
void send_byte(int sock, char byte) { (void)!send(sock, &byte, 1, MSG_NOSIGNAL); }
bool wait_byte(int sock, char want, int timeout_ms) {
  if (!wait_readable(sock, timeout_ms)) return false;
  char got = 0;
  return recv(sock, &got, 1, 0) == 1 && got == want;
}

// Receives the child's userfaultfd that the parent's fault thread sends after fork.
int receive_fd(int sock) {
  if (!wait_readable(sock, 10000)) return -1;
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof(fd));
  return fd;
}

// codec::page_hash's seed. getrandom() cannot fail for 8 bytes once the kernel's pool is
// ready; before that (early boot) the clock and addresses still make it per process.
uint64_t draw_hash_seed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == static_cast<ssize_t>(sizeof(seed))) return seed;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (static_cast<uint64_t>(ts.tv_nsec) << 32) ^ static_cast<uint64_t>(ts.tv_sec) ^
         reinterpret_cast<uintptr_t>(&ts) ^ static_cast<uint64_t>(getpid());
}

}  // namespace

Engine& engine() { return g_engine; }

void LatencyHistogram::record(uint64_t ns) {
  int b = ns == 0 ? 0 : static_cast<int>(std::log2(static_cast<double>(ns)) * 4);
  if (b >= kBuckets) b = kBuckets - 1;
  counts[b].store(counts[b].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // one writer
}

uint64_t LatencyHistogram::percentile(double p) const {
  uint64_t total = 0;
  for (const auto& c : counts) total += c.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  uint64_t want = static_cast<uint64_t>(std::ceil(p * static_cast<double>(total)));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts[b].load(std::memory_order_relaxed);
    if (seen >= want) return static_cast<uint64_t>(std::exp2((b + 1) / 4.0));
  }
  return 0;
}

namespace {
// Epochs in a duration, rounded up: an epoch is a second when a cold age is set (one
// reclaimer pass without one).
uint32_t epochs_in(uint64_t ns) { return static_cast<uint32_t>((ns + 999999999) / 1000000000); }
}  // namespace

uint32_t Engine::cold_age_epochs() const { return epochs_in(control::option(OptionId::cold_age)); }

uint32_t Engine::deep_age_epochs() const { return epochs_in(control::option(OptionId::deep_age)); }

uint32_t Engine::file_age_epochs() const { return epochs_in(control::option(OptionId::file_age)); }

// TMC_FILE_AGE: the file is tried at once, so that a directory that cannot take one is
// named now, and once, rather than at the first cold blob.
void Engine::start_file_tier() {
  if (control::option(OptionId::file_age) == 0) return;
  const char* dir = control::option_path(OptionId::file_dir);
  struct statfs fs;
  if (statfs(dir, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)) {
    log::warn().str("TMC_FILE_DIR=").str(dir).str(" is a tmpfs: its files are memory; the file tier is off "
                    "(give a directory on a disk)").flush();
    return;
  }
  files_.set_private_tables(g_private_fds);
  if (!files_.init(dir, control::option(OptionId::file_max))) {
    const char* name = strerrorname_np(errno);
    log::warn().str("TMC_FILE_DIR=").str(dir).str(": cannot make a file there (").str(name ? name : "?")
        .str("); the file tier is off").flush();
    return;
  }
  pool_.attach_files(&files_);
}

void Engine::fail(const char* what, int err) {
  if (failed_.exchange(true)) return;
  // strerrorname_np, not strerror: strerror takes glibc's locale lock, which a thread
  // blocked in a fault may hold (seen: setlocale touching an evicted page).
  const char* name = strerrorname_np(err);
  log::warn().str("internal error (").str(what).str(": ").str(name ? name : "?")
      .str("); compression stops, compressed pages are still brought back on touch").flush();
}

bool Engine::start(heap::RegionSet* regions) {
  regions_ = regions;
  g_private_fds = platform::private_fd_tables_supported();
  platform::Uffd::read_test_settings();
  const char* why = nullptr;
  int err = uffd_.open(kWanted, kRequired, &why);
  if (err != 0) {
    log::warn().str(why).str(" (").str(strerror(err)).str("); running as a plain allocator, nothing is compressed").flush();
    return false;
  }
  fork_events_ = uffd_.features().has(UFFD_FEATURE_EVENT_FORK);
  hash_seed_ = draw_hash_seed();
  dedup_ = control::option_bool(OptionId::dedup);
  retain_max_ = control::option(OptionId::retain);
  const char* collide = platform::env_get("TMC_TEST_DEDUP_COLLIDE");
  dedup_collide_ = collide != nullptr && collide[0] == '1';
  const char* delay = platform::env_get("TMC_TEST_FAULT_START_DELAY_MS");
  fault_start_delay_ms_ = delay != nullptr ? static_cast<uint32_t>(strtoul(delay, nullptr, 10)) : 0;
  const char* unshare_delay = platform::env_get("TMC_TEST_UNSHARE_DELAY_US");
  unshare_delay_us_ = unshare_delay != nullptr ? static_cast<uint32_t>(strtoul(unshare_delay, nullptr, 10)) : 0;
  const uint64_t probation_bytes = control::option(OptionId::probation);
  constexpr uint64_t kChunkBytes = uint64_t{Probation::kChunkPages} * heap::kPageSize;
  if (!probation_.init(static_cast<uint32_t>((probation_bytes + kChunkBytes - 1) / kChunkBytes), kStagingSlots))
    log::warn().str("no memory for TMC_PROBATION's queue; pages are compressed at once").flush();
  probation_age_ns_ = control::option(OptionId::probation_age);
  void* staging = mmap(nullptr, staging_bytes(), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* doorbell = mmap(nullptr, heap::kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  doorbell_ = doorbell == MAP_FAILED ? nullptr : static_cast<char*>(doorbell);
  if (staging == MAP_FAILED || doorbell_ == nullptr || !register_staging(static_cast<char*>(staging))) {
    log::warn().str("cannot set up the staging area; running as a plain allocator").flush();
    uffd_.close();
    return false;
  }
  staging_ = static_cast<char*>(staging);
  if (!fork_events_)
    log::info().str("no fork events from userfaultfd without CAP_SYS_PTRACE: fork() brings every "
                    "compressed page back first, the child compresses on its own").flush();
  if (!fork_log_.init()) log::warn().str("no memory for the fork log; blobs freed during a fork are kept").flush();
  start_file_tier();
  running_.store(true, std::memory_order_release);
  if (!spawn(fault_service_main, "tmc-fault")) {
    running_.store(false);
    uffd_.close();
    log::warn().str("cannot start the fault thread; running as a plain allocator").flush();
    return false;
  }
  start_reclaimer();
  release_app_copy_of_uffd();
  log::info().str("compressing pages older than the cold age with ")
      .str(control::option(OptionId::codec) == 0 ? "lz4" : "zstd").flush();
  return true;
}

// Registered in write-protect mode only: UFFDIO_MOVE needs both ends registered, but
// nothing in the staging area may trap. A page moved there can vanish (a MADV_FREEd page
// that memory pressure discards): it then reads as zeros, which is all a lazily freed
// page promises, instead of a fault on the engine's own descriptor that nobody serves.
bool Engine::register_staging(char* staging) {
  return uffd_.register_write_protect(staging, staging_bytes()) == 0 &&
         uffd_.register_write_protect(doorbell_, heap::kPageSize) == 0;
}

// The madvise returns once the fault thread has read its REMOVE event (which drops nothing:
// the page is in no region). Never from the fault thread itself.
void Engine::ring_doorbell() { platform::raw_madvise(doorbell_, heap::kPageSize, MADV_DONTNEED); }

void Engine::add_own_thread(int32_t tid) {
  for (auto& slot : own_tids_) {
    int32_t none = 0;
    if (slot.compare_exchange_strong(none, tid)) return;
  }
}

bool Engine::is_own_thread(int32_t tid) const {
  if (tid == 0) return false;
  for (const auto& slot : own_tids_)
    if (slot.load(std::memory_order_relaxed) == tid) return true;
  return false;
}

void Engine::before_purge(void* addr, size_t len) {
  if (!running()) return;
  pthread_mutex_lock(&reclaim_lock_);
  guarded_purge_start_.store(reinterpret_cast<uintptr_t>(addr), std::memory_order_relaxed);
  guarded_purge_end_.store(reinterpret_cast<uintptr_t>(addr) + len, std::memory_order_release);
}
void Engine::after_purge() {
  if (!running()) return;
  guarded_purge_end_.store(0, std::memory_order_release);
  guarded_purge_start_.store(0, std::memory_order_relaxed);
  pthread_mutex_unlock(&reclaim_lock_);
}

// Before fork: one fork at a time; the reclaimer finishes its batch and waits (no page is
// mid-move, the pool is neither compacted nor grown); then the fork window opens
// (reclaim/fork_window.h): the fault thread goes on serving every fault, since glibc's fork
// takes locks in heap memory after this handler, but frees no blob and leaves no page in a
// transient state. The hand-over socket carries the child's userfaultfd from the fault
// thread to the child.
void Engine::prefork() {
  if (!running()) return;
  pthread_mutex_lock(&g_fork_lock);
  pthread_mutex_lock(&reclaim_lock_);
  if (!fork_events_) {
    restore_before_fork();
  } else if (int sv[2]; socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
    fork_socket_.store(sv[0], std::memory_order_release);
    g_child_end = sv[1];
  }
  files_.prepare_fork();
  handed_over_.store(false, std::memory_order_release);
  fork_window_.store(true, std::memory_order_seq_cst);
  // The fault thread reads the window once per section of work: wait for the section under
  // way, which may still fill a page through Filling or free a blob. Bounded: the fault
  // thread never waits for an application thread.
  while (dispatching_.load(std::memory_order_seq_cst)) sched_yield();
}

// Without fork events the child's copy of the heap is registered with no userfaultfd: an
// evicted page would read as zeros there, and glibc touches heap memory in the child
// (FILE locks, thread-specific data) before any atfork handler could register it again. So
// every evicted page comes back now, keeping its age (the reclaimer evicts it again once
// the fork is over), while reclaim_lock_ keeps anything from being evicted until the
// kernel has copied the address space. No fault is held meanwhile: the reclaimer, which
// would make the room, waits for this fork.
void Engine::restore_before_fork() {
  hold_.store(false, std::memory_order_relaxed);
  uint64_t left = 0;
  fork_restored_pages_.fetch_add(restore_every_page(/*keep_age=*/true, &left), std::memory_order_relaxed);
  // Nothing should be left (every evicted state can be brought back); say so if it is.
  if (left != 0)
    log::warn().str("fork: ").u64(left).str(" compressed pages could not be brought back; the child reads them as zeros").flush();
}

uint64_t Engine::restore_every_page(bool keep_age, uint64_t* left) {
  uint64_t restored = 0;
  // A page may be left by one pass only while an address-space event is pending (EAGAIN),
  // which the fault thread reads between blocks; a page that cannot be decoded stays left.
  for (int pass = 0; pass < 50; ++pass) {
    restored += restore_all(UINT64_MAX, keep_age, left);
    if (*left == 0) break;
    timespec ts{0, 1000000};
    nanosleep(&ts, nullptr);
  }
  return restored;
}

// Closes the fork window in this process: once the fault thread is out of the section that
// may still have seen it open, it appends nothing more, and the blobs of the pages it
// brought back or dropped meanwhile are released (reclaim/fork_window.h).
void Engine::close_fork_window() {
  fork_window_.store(false, std::memory_order_seq_cst);
  while (dispatching_.load(std::memory_order_seq_cst)) sched_yield();
  fork_log_.settle(pool_);
}

// Until the child's own fault thread runs, the child's faults are served by this process's
// fault thread: from this process's pool, where nothing is freed while the window is open,
// and from the page words as they were at the fork (this process's words, or the old word
// of a page the fault thread changed meanwhile: fork_window.h). The child says 'r' once its
// fault thread runs; the fault thread here then stops reading the child's descriptor and the
// child hears 'a' before its own fault thread serves anything and its reclaimer may evict
// (a page it evicts must never be served from here).
void Engine::postfork_parent() {
  if (!running()) return;
  int s = fork_socket_.load(std::memory_order_acquire);
  // fork() returns once the FORK event is read; the fault thread may still be handing over.
  for (int i = 0; i < 50000 && s >= 0 && !handed_over_.load(std::memory_order_acquire); ++i) {
    timespec ts{0, 100000};
    nanosleep(&ts, nullptr);
  }
  const int child_fd = child_serve_fd_.load(std::memory_order_acquire);
  if (s >= 0 && child_fd >= 0) {
    // The FORK event put the child's descriptor in the fault thread's table.
    int fd = g_private_fds ? platform::fetch_thread_fd(fault_tid_.load(std::memory_order_relaxed), child_fd) : child_fd;
    if (fd < 0 || !send_fd(s, fd))
      log::warn().str("cannot hand the forked child its userfaultfd (").str(strerror(errno)).str(")").flush();
    if (g_private_fds && fd >= 0) close(fd);
    if (!wait_byte(s, 'r', 10000))
      log::warn().str("forked child did not start its fault thread in 10 s").flush();
    stop_child_serve_.store(true, std::memory_order_release);
    for (int i = 0; i < 10000 && child_serve_fd_.load(std::memory_order_acquire) >= 0; ++i) {
      timespec ts{0, 100000};
      nanosleep(&ts, nullptr);
    }
    send_byte(s, 'a');
  }
  close_fork_window();
  files_.drop_fork_fds();
  s = fork_socket_.exchange(-1);
  if (s >= 0) close(s);
  if (g_child_end >= 0) close(g_child_end);
  g_child_end = -1;
  pthread_mutex_unlock(&reclaim_lock_);
  pthread_mutex_unlock(&g_fork_lock);
}

// In the child: the parent's descriptor is useless here (it drives the parent's memory);
// the child's own arrives through the socket. The child's copies of the pool and page
// tables are the parent's memory at fork time, copy-on-write, settled against the fork
// window's log: the child serves its own faults from them, lazily (see postfork_parent
// for the time before its thread runs).
void Engine::postfork_child() {
  if (!running()) return;
  pool_lock_.reset_after_fork();
  staging_lock_.reset_after_fork();
  move_fence_.reset_after_fork();
  pool_.reset_after_fork();
  files_.adopt_fork_fds();
  for (auto& slot : own_tids_) slot.store(0, std::memory_order_relaxed);
  fork_window_.store(false, std::memory_order_relaxed);
  dispatching_.store(false, std::memory_order_relaxed);
  fork_log_.settle(pool_);
  probation_.mark_inherited();
  child_serve_fd_.store(-1, std::memory_order_relaxed);
  stop_child_serve_.store(false, std::memory_order_relaxed);
  // Nobody here waits for a restore the parent was asked for.
  restore_passes_.store(restore_asked_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  restore_done_.reset_after_fork();
  // The parent's view of its RSS against the target: the child's reclaimer, once it runs,
  // decides for the child. Until then no fault of the child is held.
  hold_.store(false, std::memory_order_relaxed);
  target_floor_.store(0, std::memory_order_relaxed);
  faults_held_.store(0, std::memory_order_relaxed);
  room_wanted_.reset_after_fork();
  // The parent's descriptors: in this table only if libtmc's threads shared it.
  recycler_.close_after_fork(!g_private_fds);
  pthread_mutex_init(&reclaim_lock_, nullptr);
  pthread_mutex_init(&g_fork_lock, nullptr);
  int parent_end = fork_socket_.exchange(-1);
  if (parent_end >= 0) close(parent_end);
  platform::UffdFeatures features = uffd_.features();
  if (g_private_fds) uffd_.forget();  // the number may be one of the application's here
  else uffd_.close();
  if (!fork_events_) {
    start_child_without_fork_events();
    return;
  }
  int sock = g_child_end;
  g_child_end = -1;
  int fd = sock >= 0 ? receive_fd(sock) : -1;
  if (fd < 0) {
    // Nothing here can serve this process's evicted pages; the parent goes on serving them
    // only until it gives up waiting for us.
    running_.store(false);
    if (sock >= 0) close(sock);
    files_.drop_fork_fds();
    log::warn().str("forked child did not receive its userfaultfd; its compressed pages cannot be served").flush();
    return;
  }
  uffd_.adopt(fd, features);
  // The fault thread starts reading only once the parent has let go ('a' below): two
  // readers of one descriptor could serve a page from two different states.
  child_may_serve_.store(false, std::memory_order_relaxed);
  bool started = spawn(fault_service_main, "tmc-fault");
  send_byte(sock, 'r');
  if (!started) {
    log::warn().str("forked child cannot start its fault thread").flush();
    running_.store(false);
    close(sock);
    files_.drop_fork_fds();
    return;
  }
  bool acked = wait_byte(sock, 'a', 20000);
  close(sock);
  child_may_serve_.store(true, std::memory_order_release);
  if (acked) start_reclaimer();
  release_app_copy_of_uffd();
  files_.drop_fork_fds();  // the threads have their copies
  if (!acked) log::warn().str("forked child: the parent did not let go of its faults; nothing will be compressed here").flush();
}

// The child of a fork without fork events: every page came back before the fork
// (restore_before_fork), so nothing here is evicted, and the heap is registered with no
// userfaultfd. The child opens its own and starts afresh: the reclaimer registers each
// block again before it evicts from it, as at start.
void Engine::start_child_without_fork_events() {
  clear_block_registrations(regions_);
  const char* why = nullptr;
  int err = uffd_.open(kWanted, kRequired, &why);
  if (err == 0 && !register_staging(staging_)) {
    err = errno != 0 ? errno : EINVAL;
    why = "cannot register the staging area";
    uffd_.close();
  }
  if (err != 0) {
    running_.store(false);
    log::warn().str("forked child: ").str(why).str(" (").str(strerrorname_np(err))
        .str("); nothing is compressed in it").flush();
    return;
  }
  child_may_serve_.store(true, std::memory_order_relaxed);
  if (!spawn(fault_service_main, "tmc-fault")) {
    running_.store(false);
    uffd_.close();
    log::warn().str("forked child cannot start its fault thread; nothing is compressed in it").flush();
    return;
  }
  start_reclaimer();
  release_app_copy_of_uffd();
  files_.drop_fork_fds();  // the threads have their copies
}

uint64_t Engine::restore_all(uint64_t timeout_ns, bool keep_age, uint64_t* left) {
  if (left != nullptr) *left = 0;
  if (!running()) return 0;
  if (keep_age) restore_keep_age_.store(true, std::memory_order_release);
  const uint32_t asked = restore_asked_.fetch_add(1, std::memory_order_seq_cst) + 1;
  ring_doorbell();  // an idle fault thread sleeps up to 200 ms in poll
  uint64_t waited = 0;
  for (;;) {
    uint32_t ticket = restore_done_.ticket();
    if (static_cast<int32_t>(restore_passes_.load(std::memory_order_acquire) - asked) >= 0) break;
    if (!running() || waited >= timeout_ns) return 0;
    const uint64_t slice = timeout_ns - waited < 100'000'000 ? timeout_ns - waited : 100'000'000;
    timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    restore_done_.wait(ticket, slice);
    clock_gettime(CLOCK_MONOTONIC, &b);
    waited += static_cast<uint64_t>((b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec));
  }
  if (left != nullptr) *left = restore_last_left_.load(std::memory_order_relaxed);
  return restore_last_count_.load(std::memory_order_relaxed);
}

void Engine::fill_stats(tmc_stats* out) const {
  out->compressed_pages = compressed_pages_.load(std::memory_order_relaxed);
  out->orig_bytes = out->compressed_pages * heap::kPageSize;
  // Retained copies are in the pool but belong to resident pages. (One that dedup shares
  // with a Compressed page counts once in the pool: the clamp keeps the difference sane.)
  const int64_t retained = retained_bytes_.load(std::memory_order_relaxed);
  const uint64_t pooled = pool_.compr_bytes();
  out->compr_bytes = retained > 0 ? (pooled > static_cast<uint64_t>(retained) ? pooled - static_cast<uint64_t>(retained) : 0) : pooled;
  out->retained_pages = static_cast<uint64_t>(std::max<int64_t>(0, retained_pages_.load(std::memory_order_relaxed)));
  out->retained_bytes = static_cast<uint64_t>(std::max<int64_t>(0, retained));
  out->retained_reused = retained_reused_.load(std::memory_order_relaxed);
  out->retained_changed = retained_changed_.load(std::memory_order_relaxed);
  out->pool_bytes = pool_.pool_bytes();
  out->pool_recycled_pages = recycler_.recycled();
  out->zero_pages = zero_pages_.load(std::memory_order_relaxed);
  out->same_pages = same_pages_.load(std::memory_order_relaxed);
  out->evictions = evictions_.load(std::memory_order_relaxed);
  out->incompressible = incompressible_.load(std::memory_order_relaxed);
  out->busy_skips = busy_skips_.load(std::memory_order_relaxed);
  out->faults = faults_.load(std::memory_order_relaxed);
  out->refaults = refaults_.load(std::memory_order_relaxed);
  out->fault_ns_p50 = fault_latency_.percentile(0.50);
  out->fault_ns_p99 = fault_latency_.percentile(0.99);
  out->cpu_ns_fault = cpu_ns_fault_.load(std::memory_order_relaxed);
  out->cpu_ns_reclaim = cpu_ns_reclaim_.load(std::memory_order_relaxed);
  out->cpu_ns_background += out->cpu_ns_fault + out->cpu_ns_reclaim;
  out->self_faults = self_faults_.load(std::memory_order_relaxed);
  out->verify_failures = verify_failures_.load(std::memory_order_relaxed);
  out->unshared_pages = unshared_pages_.load(std::memory_order_relaxed);
  out->unshare_purged = unshare_purged_.load(std::memory_order_relaxed);
  out->probation_pages = probation_pages_.load(std::memory_order_relaxed);
  out->probation_returned = probation_returned_.load(std::memory_order_relaxed);
  out->probation_graduated = probation_graduated_.load(std::memory_order_relaxed);
  out->fork_restored_pages = fork_restored_pages_.load(std::memory_order_relaxed);
  out->move_misreports = move_misreports_.load(std::memory_order_relaxed);
  out->fault_around_pages = fault_around_.load(std::memory_order_relaxed);
  out->dict_bytes = dict_ready_.load(std::memory_order_acquire) ? dict_.memory_bytes() : 0;
  out->refault_distance_p50_ms = refault_distance_ms_.percentile(0.50);
  out->backoff_pages = backoff_pages_.load(std::memory_order_relaxed);
  out->target_bytes = target_bytes_.load(std::memory_order_relaxed);
  uint32_t threshold = age_threshold_.load(std::memory_order_relaxed);
  // Epochs are seconds only with a cold age (passes without one: nothing to report).
  bool seconds = control::option(OptionId::cold_age) != 0;
  out->age_threshold_ms = threshold == UINT32_MAX || !seconds ? 0 : uint64_t{threshold} * 1000;
  out->pool_full = pool_full_.load(std::memory_order_relaxed);
  out->throttle_ns = throttle_ns_.load(std::memory_order_relaxed);
  int64_t over = over_target_.load(std::memory_order_relaxed);
  out->over_target_bytes = out->target_bytes != 0 && over > 0 ? static_cast<uint64_t>(over) : 0;
  out->target_floor_bytes = target_floor_.load(std::memory_order_relaxed);
  out->held_faults = held_faults_.load(std::memory_order_relaxed);
  out->hold_ns = hold_ns_.load(std::memory_order_relaxed);
  out->pressure = pressure_.load(std::memory_order_relaxed) ? 1 : 0;
  out->dedup_pages = pool_.shared_refs();
  out->dedup_saved_bytes = pool_.shared_bytes();
  out->dedup_compared_pages = dedup_compared_.load(std::memory_order_relaxed);
  out->dedup_hash_collisions = dedup_collisions_.load(std::memory_order_relaxed);
  out->dedup_index_bytes = dedup_index_bytes_.load(std::memory_order_relaxed);
  out->cpu_ns_dedup = cpu_ns_dedup_.load(std::memory_order_relaxed);
  out->deep_pages = static_cast<uint64_t>(std::max<int64_t>(0, deep_pages_.load(std::memory_order_relaxed)));
  out->deep_recompressed = deep_recompressed_.load(std::memory_order_relaxed);
  out->deep_saved_bytes = deep_saved_bytes_.load(std::memory_order_relaxed);
  out->deep_given_back = deep_given_back_.load(std::memory_order_relaxed);
  out->deep_dict_bytes = deep_dict_ready_.load(std::memory_order_acquire) ? deep_dict_.resident_bytes() : 0;
  out->cpu_ns_deep = cpu_ns_deep_.load(std::memory_order_relaxed);
  const pool::FileStats files = files_.stats();
  out->file_blobs = files.blobs;
  out->file_bytes = files.blob_bytes;
  out->file_disk_bytes = files.disk_bytes;
  out->file_generations = files.generations;
  out->file_writes = files_.writes();
  out->file_reads = files_.reads();
  out->file_write_errors = files_.write_errors();
  out->file_read_errors = files_.read_errors();
  out->file_full = files_.full();
  out->file_fault_ns_p50 = file_fault_latency_.percentile(0.50);
  out->file_fault_ns_p99 = file_fault_latency_.percentile(0.99);
  out->cpu_ns_file = cpu_ns_file_.load(std::memory_order_relaxed);
  out->deep_sweeps = deep_sweeps_.load(std::memory_order_relaxed);
  out->deep_sweep_candidates = deep_sweep_candidates_.load(std::memory_order_relaxed);
}

}  // namespace tmc::reclaim
