// Process lifecycle of libtmc: the only place that knows the start-up order, registers
// fork handlers and starts libtmc's threads.
//
// Start-up order (docs/ARCHITECTURE.md, "Start-up"):
//   1. the first allocation call (or the library constructor, whichever comes first)
//      resolves jemalloc's entry points, reads the TMC_* options and, if TMC_ENABLE=1,
//      installs the extent hooks and the fork handlers;
//   2. the library constructor then starts the background thread (control socket,
//      periodic stats). Threads are never started from inside an allocation call.
#pragma once

namespace tmc::runtime {

// Makes the allocator usable; idempotent and thread-safe. Returns false only when called
// recursively from inside start-up (the caller then uses the bootstrap buffer).
bool ensure_ready();

// True when libtmc manages the heap; false for TMC_ENABLE=0 or after a failed start-up.
bool is_active();

// Library constructor and destructor work (preload/lifecycle.cc calls these).
void on_library_load();
void on_library_unload();

}  // namespace tmc::runtime
