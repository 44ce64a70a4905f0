#include "runtime/fork.h"

#include <pthread.h>

#include "base/log.h"
#include "heap/eviction_gate.h"
#include "heap/extent_hooks.h"
#include "reclaim/engine.h"
#include "runtime/background.h"
#include "runtime/memory_lock.h"
#include "runtime/runtime.h"
#include "runtime/thread_counters.h"

namespace tmc::runtime {
namespace {

// The regions lock needs no taking: an application thread holds it only inside jemalloc's
// extent growth, which jemalloc's own prefork handler quiesces (it holds the arena's grow
// mutex, the one hook callers hold). The engine's protocol is in reclaim/engine.cc.
void prepare() { reclaim::engine().prefork(); }
void parent() { reclaim::engine().postfork_parent(); }

void child() {
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
