// Fork handling for every module, in one place and in lock order.
//
// Our handlers are registered after jemalloc's (see init.cc), so before fork ours run
// first and after fork ours run last: by the time our child handler runs, jemalloc's
// locks are usable again and the child may allocate and start a thread.
#pragma once

namespace tmc::runtime {

void register_fork_handlers();

}  // namespace tmc::runtime
