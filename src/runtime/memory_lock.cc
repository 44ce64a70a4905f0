// See memory_lock.h.
#include "runtime/memory_lock.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/log.h"
#include "heap/extent_hooks.h"
#include "reclaim/engine.h"
#include "runtime/eviction_barrier.h"
#include "runtime/runtime.h"

namespace tmc::runtime {
namespace {

// One mlockall or munlockall at a time; guards g_locked.
pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
bool g_locked = false;  // an mlockall is in effect: eviction is suspended

int raw_mlockall(int flags) { return static_cast<int>(syscall(SYS_mlockall, flags)); }
int raw_munlockall() { return static_cast<int>(syscall(SYS_munlockall)); }

heap::LockNewExtents future_mode(int flags) {
  if ((flags & MCL_FUTURE) == 0) return heap::LockNewExtents::kNo;
  return (flags & MCL_ONFAULT) != 0 ? heap::LockNewExtents::kLockOnFault : heap::LockNewExtents::kLock;
}

}  // namespace

int lock_all(int flags) {
  heap::RegionSet* regions = heap::managed_regions();
  // Flags the kernel refuses it refuses here too, before anything changes.
  const bool valid = (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) == 0 && (flags & (MCL_CURRENT | MCL_FUTURE)) != 0;
  if (!is_active() || regions == nullptr || !valid) return raw_mlockall(flags);
  reclaim::Engine& engine = reclaim::engine();
  pthread_mutex_lock(&g_mutex);
  if (engine.running()) {
    engine.suspend_eviction(true);
    wait_for_eviction_batch();  // no page is mid-move from here on
    if ((flags & MCL_CURRENT) != 0) {
      uint64_t left = 0;
      uint64_t restored = engine.restore_every_page(/*keep_age=*/false, &left);
      if (left != 0)
        log::warn().str("mlockall: ").u64(left).str(" evicted pages could not be brought back; they are not locked").flush();
      log::info().str("mlockall: ").u64(restored).str(" evicted pages brought back; eviction suspended until munlockall").flush();
    }
  }
  int err = 0;
  int rc = regions->with_unused_hidden([&] {
    int r = raw_mlockall(flags);
    err = errno;
    return r;
  });
  if (rc == 0) {
    heap::set_lock_new_extents(future_mode(flags));  // each call replaces MCL_FUTURE, as the kernel's does
    g_locked = true;
  } else if (!g_locked && engine.running()) {
    engine.suspend_eviction(false);
  }
  pthread_mutex_unlock(&g_mutex);
  errno = err;
  return rc;
}

int unlock_all() {
  if (!is_active()) return raw_munlockall();
  pthread_mutex_lock(&g_mutex);
  int rc = raw_munlockall();
  const int err = errno;
  if (rc == 0 && g_locked) {
    heap::set_lock_new_extents(heap::LockNewExtents::kNo);
    g_locked = false;
    if (reclaim::engine().running()) reclaim::engine().suspend_eviction(false);
  }
  pthread_mutex_unlock(&g_mutex);
  errno = err;
  return rc;
}

void memory_lock_after_fork_child() {
  pthread_mutex_init(&g_mutex, nullptr);
  if (!g_locked) return;
  g_locked = false;
  heap::set_lock_new_extents(heap::LockNewExtents::kNo);
  reclaim::engine().suspend_eviction(false);
}

}  // namespace tmc::runtime
