// See engine.h: start-up of the engine, the fork protocol, the purge-hook handshake and
// the engine's statistics.
#include "reclaim/engine.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "base/log.h"
#include "control/options.h"
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

// Features: MOVE for atomic eviction, FORK so children keep their evicted pages, REMOVE/
// UNMAP/REMAP so purged memory never comes back with old contents, THREAD_ID for the
// fault statistics.
constexpr uint64_t kRequired = UFFD_FEATURE_MOVE | UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMOVE;
constexpr uint64_t kWanted = kRequired | UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_THREAD_ID;

pthread_mutex_t g_fork_lock = PTHREAD_MUTEX_INITIALIZER;
int g_child_end = -1;  // the child's end of the fork hand-over socket, between prefork and postfork

bool spawn(void* (*body)(void*), const char* name) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, body, &g_engine);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) return false;
  pthread_setname_np(thread, name);
  return true;
}

bool start_threads() {
  if (!spawn(fault_service_main, "tmc-fault")) return false;
  if (!spawn(reclaimer_main, "tmc-reclaim")) {
    // The fault thread alone is harmless: nothing is evicted without the reclaimer.
    log::warn().str("cannot start the reclaimer thread; nothing will be compressed").flush();
  }
  return true;
}

// Receives the child's userfaultfd that the parent's fault thread sends after fork.
int receive_fd(int sock) {
  pollfd p{sock, POLLIN, 0};
  if (poll(&p, 1, 10000) != 1) return -1;
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

uint32_t Engine::cold_age_epochs() const {
  // An epoch is one reclaimer pass, about a second when a cold age is set.
  uint64_t ns = control::option(OptionId::cold_age);
  return static_cast<uint32_t>((ns + 999999999) / 1000000000);
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
  const char* why = nullptr;
  int err = uffd_.open(kWanted, kRequired, &why);
  if (err != 0) {
    log::warn().str(why).str(" (").str(strerror(err)).str("); running as a plain allocator, nothing is compressed").flush();
    return false;
  }
  void* staging = mmap(nullptr, kStagingSlots * heap::kPageSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (staging == MAP_FAILED || uffd_.register_missing(staging, kStagingSlots * heap::kPageSize) != 0) {
    log::warn().str("cannot set up the staging area; running as a plain allocator").flush();
    uffd_.close();
    return false;
  }
  staging_ = static_cast<char*>(staging);
  running_.store(true, std::memory_order_release);
  if (!start_threads()) {
    running_.store(false);
    uffd_.close();
    log::warn().str("cannot start the fault thread; running as a plain allocator").flush();
    return false;
  }
  log::info().str("compressing pages older than the cold age with ")
      .str(control::option(OptionId::codec) == 0 ? "lz4" : "zstd").flush();
  return true;
}

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

void Engine::before_purge() {
  if (running()) pthread_mutex_lock(&reclaim_lock_);
}
void Engine::after_purge() {
  if (running()) pthread_mutex_unlock(&reclaim_lock_);
}

// Before fork: one fork at a time; the reclaimer finishes its batch and waits; the fault
// thread stops taking locks (fork_gate_) but keeps reading events, because the kernel
// holds fork() until the FORK event is read. The hand-over socket carries the child's
// userfaultfd from the fault thread to the child.
void Engine::prefork() {
  if (!running()) return;
  pthread_mutex_lock(&g_fork_lock);
  pthread_mutex_lock(&reclaim_lock_);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
    fork_socket_.store(sv[0], std::memory_order_release);
    g_child_end = sv[1];
  }
  fork_gate_.store(true, std::memory_order_release);
  // Wait until the fault thread holds no lock: it takes staging_lock_ and pool_lock_ only
  // while the gate is open, so holding both here proves it is outside them.
  staging_lock_.lock();
  pool_lock_.lock();
}

void Engine::postfork_parent() {
  if (!running()) return;
  pool_lock_.unlock();
  staging_lock_.unlock();
  fork_gate_.store(false, std::memory_order_release);
  // The fault thread has sent the child's descriptor (fork() returned after the event was
  // read and handled); the socket is no longer needed.
  int s = fork_socket_.exchange(-1);
  if (s >= 0) close(s);
  if (g_child_end >= 0) close(g_child_end);
  g_child_end = -1;
  pthread_mutex_unlock(&reclaim_lock_);
  pthread_mutex_unlock(&g_fork_lock);
}

// In the child: the parent's descriptor is useless here (it drives the parent's memory);
// the child's own arrives through the socket. The child's copies of the pool and page
// tables are the parent's memory at fork time, copy-on-write: the child serves its own
// faults from them, lazily.
void Engine::postfork_child() {
  if (!running()) return;
  pool_lock_.reset_after_fork();
  staging_lock_.reset_after_fork();
  pool_.reset_after_fork();
  for (auto& slot : own_tids_) slot.store(0, std::memory_order_relaxed);
  fork_gate_.store(false, std::memory_order_relaxed);
  pthread_mutex_init(&reclaim_lock_, nullptr);
  pthread_mutex_init(&g_fork_lock, nullptr);
  int parent_end = fork_socket_.exchange(-1);
  if (parent_end >= 0) close(parent_end);
  platform::UffdFeatures features = uffd_.features();
  uffd_.close();
  int fd = g_child_end >= 0 ? receive_fd(g_child_end) : -1;
  if (g_child_end >= 0) close(g_child_end);
  g_child_end = -1;
  if (fd < 0) {
    running_.store(false);
    log::warn().str("forked child did not receive its userfaultfd; its compressed pages cannot be served").flush();
    return;
  }
  uffd_.adopt(fd, features);
  if (!start_threads()) {
    log::warn().str("forked child cannot start its fault thread").flush();
    running_.store(false);
  }
}

void Engine::fill_stats(tmc_stats* out) const {
  out->compressed_pages = compressed_pages_.load(std::memory_order_relaxed);
  out->orig_bytes = out->compressed_pages * heap::kPageSize;
  out->compr_bytes = pool_.compr_bytes();
  out->pool_bytes = pool_.pool_bytes();
  out->zero_pages = zero_pages_.load(std::memory_order_relaxed);
  out->same_pages = same_pages_.load(std::memory_order_relaxed);
  out->evictions = evictions_.load(std::memory_order_relaxed);
  out->faults = faults_.load(std::memory_order_relaxed);
  out->refaults = refaults_.load(std::memory_order_relaxed);
  out->fault_ns_p50 = fault_latency_.percentile(0.50);
  out->fault_ns_p99 = fault_latency_.percentile(0.99);
  out->cpu_ns_background += cpu_ns_.load(std::memory_order_relaxed);
  out->self_faults = self_faults_.load(std::memory_order_relaxed);
  out->fault_around_pages = fault_around_.load(std::memory_order_relaxed);
}

}  // namespace tmc::reclaim
