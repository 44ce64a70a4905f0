// TMC_CORE_RESTORE: complete core dumps.
//
// The kernel writes a core after it has stopped every other thread, the fault thread too,
// and it cannot fault evicted pages in for the dump: they come out as zeros (and debuggers
// reading /proc/PID/mem get EIO for them). So, with the option on, a signal that dumps core
// first brings every evicted page back:
//
//   - For each such signal (kCoreSignals), libtmc's dispatcher is what the kernel runs. The
//     program's sigaction/signal calls for these signals are kept aside (the exported
//     sigaction, signal, bsd_signal, sysv_signal of preload/signals.cc): it sees and
//     replaces its own action as before, and the dispatcher runs the program's handler,
//     with the program's flags and mask (SA_RESETHAND emulated).
//   - When the program's action is the default (at once, or after its handler reset it and
//     raised the signal again, as Redis's crash handler does), the dispatcher suspends
//     eviction, brings every page back (at most kRestoreTimeout), puts the default action in
//     place and raises the signal again with its original siginfo: the kernel then dumps a
//     complete core.
//
// Not covered: a crash of libtmc's own threads, a stack overflow without an alternate signal
// stack (no handler can run), programs that set actions with the system call itself.
#pragma once

#include <signal.h>

namespace tmc::runtime {

// Installs the dispatcher on the core-dumping signals (library constructor, option on).
void install_crash_restore();

// sigaction and signal as the program sees them (preload/signals.cc).
int app_sigaction(int sig, const struct sigaction* act, struct sigaction* old);
enum class SignalStyle { kBsd, kSysv };
sighandler_t app_signal(int sig, sighandler_t handler, SignalStyle style);

// In a forked child: frees the actions' lock, which a parent thread inside sigaction may
// have held at the fork.
void crash_restore_after_fork_child();

}  // namespace tmc::runtime
