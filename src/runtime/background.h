// libtmc's background thread: serves the control socket and writes periodic stats.
// Later parts (reclaimer, tracker) add their periodic actions to its loop.
#pragma once

#include "base/log.h"

namespace tmc::runtime {

// Starts the thread (once). Called from the library constructor, never from malloc.
void start_background_thread();

// In a forked child: drops the parent's socket and starts the child's own thread.
void background_after_fork_child();

// Writes a one-line stats summary at `level`.
void log_stats_line(log::Level level);

}  // namespace tmc::runtime
