// mlockall and munlockall under libtmc.
//
// Locked memory must be resident and stay so. The kernel's own mlockall does not know the
// managed heap: it would fault in every page of the regions libtmc reserved (a GiB each)
// and, under MCL_FUTURE, leave what jemalloc hands out later unlocked (the regions were
// mapped before). And locked pages must not be evicted. So libtmc's mlockall:
//
//   1. suspends eviction (Engine::suspend_eviction) and waits out the batch in flight;
//   2. for MCL_CURRENT, brings every evicted page back (Engine::restore_all);
//   3. calls the kernel's mlockall with the heap's unused space made inaccessible
//      (RegionSet::with_unused_hidden), so that it is not faulted in;
//   4. for MCL_FUTURE, locks every range handed to jemalloc from then on
//      (heap::set_lock_new_extents).
//
// Eviction stays suspended until munlockall, which undoes all of it. Memory locks are not
// inherited across fork, so a forked child starts unlocked and evicting. A program that
// calls the system call itself (syscall(SYS_mlockall)) bypasses this.
#pragma once

namespace tmc::runtime {

int lock_all(int flags);
int unlock_all();

// In a forked child (runtime/fork.cc).
void memory_lock_after_fork_child();

}  // namespace tmc::runtime
