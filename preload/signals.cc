// The exported sigaction and signal family: glibc's, except that with TMC_CORE_RESTORE the
// signals that dump core keep libtmc's dispatcher in the kernel while the program sees and
// sets its own actions (src/runtime/crash_restore.h).
#include <signal.h>

#include "base/compiler.h"
#include "runtime/crash_restore.h"

using tmc::runtime::SignalStyle;

extern "C" {

TMC_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  return tmc::runtime::app_sigaction(sig, act, old);
}

TMC_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  return tmc::runtime::app_signal(sig, handler, SignalStyle::kBsd);
}

TMC_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) {
  return tmc::runtime::app_signal(sig, handler, SignalStyle::kBsd);
}

TMC_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) {
  return tmc::runtime::app_signal(sig, handler, SignalStyle::kSysv);
}

}  // extern "C"
