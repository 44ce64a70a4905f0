// See crash_restore.h.
#include "runtime/crash_restore.h"

#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "base/log.h"
#include "base/spin_lock.h"
#include "platform/elf_symbols.h"
#include "reclaim/engine.h"

namespace tmc::runtime {
namespace {

constexpr int kCoreSignals[] = {SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE,
                                SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS};
constexpr uint64_t kRestoreTimeout = 30'000'000'000ull;  // then the core is written as it is
constexpr int kSignals = 65;

using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);
using SignalFn = sighandler_t (*)(int, sighandler_t);

// glibc's own functions, found without allocating in the object that holds
// gnu_get_libc_version (glibc-only, never interposed).
void* libc_symbol(const char* name) {
  return platform::find_symbol_in_object_of(reinterpret_cast<const void*>(&gnu_get_libc_version), name);
}
SigactionFn real_sigaction() {
  static std::atomic<SigactionFn> fn{nullptr};
  SigactionFn f = fn.load(std::memory_order_acquire);
  if (f == nullptr) fn.store(f = reinterpret_cast<SigactionFn>(libc_symbol("sigaction")), std::memory_order_release);
  return f;
}
SignalFn real_signal(SignalStyle style) {
  static std::atomic<SignalFn> bsd{nullptr}, sysv{nullptr};
  std::atomic<SignalFn>& slot = style == SignalStyle::kBsd ? bsd : sysv;
  SignalFn f = slot.load(std::memory_order_acquire);
  if (f == nullptr)
    slot.store(f = reinterpret_cast<SignalFn>(libc_symbol(style == SignalStyle::kBsd ? "signal" : "sysv_signal")),
               std::memory_order_release);
  return f;
}

// Per managed signal: the action the program set (what it reads back), written under
// g_lock with every signal blocked (so no handler on the writing thread can meet the lock
// held), read by the dispatcher without it.
std::atomic<bool> g_managed[kSignals];
struct sigaction g_app[kSignals];
SpinLock g_lock;

bool managed(int sig) { return sig > 0 && sig < kSignals && g_managed[sig].load(std::memory_order_acquire); }

void dispatch(int sig, siginfo_t* info, void* context);

// What the kernel runs for a managed signal whose program action is `app`: the dispatcher,
// with the program's mask and flags, less SA_RESETHAND (emulated: the dispatcher must stay).
// An ignored signal stays ignored in the kernel: a handler would interrupt system calls.
struct sigaction kernel_action_for(const struct sigaction& app) {
  if (app.sa_handler == SIG_IGN) return app;
  struct sigaction k = {};
  k.sa_sigaction = dispatch;
  k.sa_mask = app.sa_mask;
  k.sa_flags = (app.sa_flags & ~(SA_RESETHAND | SA_SIGINFO)) | SA_SIGINFO;
  return k;
}

class BlockAllSignals {
 public:
  BlockAllSignals() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~BlockAllSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

bool own_thread(int32_t tid) {
  reclaim::Engine& e = reclaim::engine();
  return e.is_own_thread(tid) || e.fault_tid_.load(std::memory_order_relaxed) == tid;
}

// Waits out the reclaimer's batch in flight (runtime/eviction_barrier.h), but never for
// long: the crashing thread might hold reclaim_lock_ itself.
void wait_for_batch_briefly() {
  pthread_mutex_t* lock = &reclaim::engine().reclaim_lock_;
  for (int i = 0; i < 2000; ++i) {
    if (pthread_mutex_trylock(lock) == 0) {
      pthread_mutex_unlock(lock);
      return;
    }
    timespec ts{0, 1000000};
    nanosleep(&ts, nullptr);
  }
}

// Every page back, and none leaves again: the process is going down.
void restore_for_core() {
  reclaim::Engine& e = reclaim::engine();
  if (!e.running() || own_thread(static_cast<int32_t>(syscall(SYS_gettid)))) return;
  e.suspend_eviction(true);
  wait_for_batch_briefly();
  e.restore_all(kRestoreTimeout);
}

// The signal takes the process down with a core: every page back first, then the default
// action, then the signal again (with its own siginfo, so the core shows the original).
void dump_core_complete(int sig, siginfo_t* info) {
  restore_for_core();
  const auto tid = static_cast<int32_t>(syscall(SYS_gettid));
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  real_sigaction()(sig, &dfl, nullptr);
  syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, info);
  // Delivered when this handler returns (the signal is blocked in it, unless SA_NODEFER
  // delivered it already).
}

void dispatch(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  struct sigaction app = g_app[sig];
  if ((app.sa_flags & SA_RESETHAND) != 0 && app.sa_handler != SIG_DFL && app.sa_handler != SIG_IGN) {
    // One-shot: from now on the program's action is the default.
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    g_app[sig] = dfl;
  }
  if (app.sa_handler == SIG_DFL) {
    dump_core_complete(sig, info);
  } else if (app.sa_handler == SIG_IGN) {
    // An ignored fault the kernel raised itself cannot be ignored: it takes the default
    // action (force_sig_info). Sent ones are ignored.
    if (info->si_code > 0) dump_core_complete(sig, info);
  } else {
    // A one-shot handler (SA_RESETHAND) for a signal that dumps core is a crash handler: it
    // reports and raises the signal again (Redis's does). Its report may read the whole
    // heap, and Redis's writes test patterns over every writable mapping, libtmc's pool and
    // page tables included, while libtmc's threads run: so every page comes back, and
    // eviction stops, before it runs. (A handler that recovers from the signal, as garbage
    // collectors do with SIGSEGV, is not one-shot: it costs nothing.)
    if ((app.sa_flags & SA_RESETHAND) != 0) restore_for_core();
    if ((app.sa_flags & SA_SIGINFO) != 0) app.sa_sigaction(sig, info, context);
    else app.sa_handler(sig);
  }
  errno = saved_errno;
}

}  // namespace

void install_crash_restore() {
  SigactionFn real = real_sigaction();
  if (real == nullptr) {
    log::warn().str("TMC_CORE_RESTORE: glibc's sigaction not found; cores may miss evicted pages").flush();
    return;
  }
  BlockAllSignals blocked;
  SpinLockGuard guard(g_lock);
  for (int sig : kCoreSignals) {
    struct sigaction current;
    if (real(sig, nullptr, &current) != 0) continue;
    g_app[sig] = current;  // a handler an earlier constructor installed runs from the dispatcher
    struct sigaction k = kernel_action_for(current);
    if (real(sig, &k, nullptr) == 0) g_managed[sig].store(true, std::memory_order_release);
  }
}

int app_sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  SigactionFn real = real_sigaction();
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  if (!managed(sig)) return real(sig, act, old);
  BlockAllSignals blocked;
  SpinLockGuard guard(g_lock);
  if (act != nullptr) {
    struct sigaction k = kernel_action_for(*act);
    if (real(sig, &k, nullptr) != 0) return -1;  // e.g. EFAULT: errno is the kernel's
  }
  if (old != nullptr) *old = g_app[sig];
  if (act != nullptr) g_app[sig] = *act;
  return 0;
}

sighandler_t app_signal(int sig, sighandler_t handler, SignalStyle style) {
  if (!managed(sig)) {
    SignalFn real = real_signal(style);
    if (real == nullptr) {
      errno = ENOSYS;
      return SIG_ERR;
    }
    return real(sig, handler);
  }
  // glibc's semantics: signal() (BSD) blocks the signal in its handler and restarts system
  // calls; sysv_signal() resets to the default on delivery and does not block it.
  struct sigaction act = {}, old = {};
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  if (style == SignalStyle::kBsd) {
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART;
  } else {
    act.sa_flags = SA_RESETHAND | SA_NODEFER;
  }
  if (app_sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

void crash_restore_after_fork_child() { g_lock.reset_after_fork(); }

}  // namespace tmc::runtime
