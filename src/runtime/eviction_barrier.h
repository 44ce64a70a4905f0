// Waiting out the reclaimer's batch in flight.
//
// The reclaimer holds reclaim_lock_ for a whole batch and reads the pins
// (heap/eviction_gate.h) and Engine::eviction_suspended() under it. Taking and dropping the
// lock returns once the batch in flight, if any, has ended: every later batch sees what the
// caller changed before calling this, so a page the caller brings back from then on stays.
// Never call it while holding a lock the fault thread or the reclaimer needs.
#pragma once

#include <pthread.h>

#include "reclaim/engine.h"

namespace tmc::runtime {

inline void wait_for_eviction_batch() {
  reclaim::Engine& e = reclaim::engine();
  pthread_mutex_lock(&e.reclaim_lock_);
  pthread_mutex_unlock(&e.reclaim_lock_);
}

}  // namespace tmc::runtime
