#include "runtime/fork.h"

#include <pthread.h>

#include "base/log.h"
#include "base/meta_alloc.h"
#include "heap/eviction_gate.h"
#include "heap/extent_hooks.h"
#include "reclaim/engine.h"
#include "runtime/background.h"
#include "runtime/crash_restore.h"
#include "runtime/memory_lock.h"
#include "runtime/runtime.h"
#include "runtime/thread_counters.h"
#include "runtime/thread_exit.h"
#include "sites/sampler.h"

// glibc's stdio list lock (exported since GLIBC_2.2.5, not declared in its headers).
extern "C" {
void _IO_list_lock(void);
void _IO_list_unlock(void);
void _IO_list_resetlock(void);
}

namespace tmc::runtime {
namespace {

// The regions lock needs no taking: an application thread holds it only inside jemalloc's
// extent growth, which jemalloc's own prefork handler quiesces (it holds the arena's grow
// mutex, the one hook callers hold). The engine's protocol is in reclaim/engine.cc.
// The stdio list lock comes first. glibc's fork() takes it only after every prepare
// handler, so after jemalloc's, which hold all of the allocator's locks: a thread in
// fflush(NULL) holding the list lock and waiting for a FILE's lock, held by a thread in
// malloc inside stdio, waiting for the forker's allocator locks, hung fork() for good
// (glibc's own malloc is locked after the list for this reason). Taken here, before
// jemalloc's handler, the cycle cannot close; glibc's own take of it nests (it is
// recursive). The parent releases it last; the child resets it, as glibc does.
// The allocation-site lock is taken last: its holders take no other lock.
void prepare() {
  _IO_list_lock();
  reclaim::engine().prefork();
  sites::prefork();
}
void parent() {
  sites::postfork();
  reclaim::engine().postfork_parent();
  _IO_list_unlock();
}

// The child first frees the locks a vanished parent thread may have held at the fork, in
// libtmc's own bookkeeping before anything there allocates or starts a thread.
void child() {
  sites::postfork();
  base::meta_alloc_after_fork_child();
  thread_exit_after_fork_child();
  crash_restore_after_fork_child();
  _IO_list_resetlock();
  if (heap::RegionSet* regions = heap::managed_regions()) regions->reset_lock_after_fork();
  heap::eviction_gate().reset_after_fork();
  reclaim::engine().postfork_child();
  memory_lock_after_fork_child();
  thread_counters_after_fork_child();
  background_after_fork_child();
}

}  // namespace

void register_fork_handlers() {
  if (pthread_atfork(prepare, parent, child) != 0)
    log::warn().str("cannot register fork handlers; a forked child will not have a control socket").flush();
}

}  // namespace tmc::runtime
