// glibc's count of the process's threads, and keeping libtmc's own threads out of it.
//
// POSIX: when the last thread of a process ends (pthread_exit, or its start routine
// returns), the process exits with status 0. glibc implements this with a counter
// (__nptl_nthreads) that pthread_create increments and a thread's exit decrements; the
// thread that brings it to zero calls exit(0), atexit handlers and all. libtmc's threads
// (tmc-fault, tmc-reclaim, tmc-background) are made with pthread_create, so they are
// counted too: without a correction, a C program that ends main with pthread_exit, or a
// child forked from a thread whose start routine then returns, would live on with only
// libtmc's threads, which block every signal, so even SIGTERM would not end it.
#pragma once

namespace tmc::platform {

// Takes one thread out of glibc's count. Call it in the thread that has just created one
// of libtmc's threads, right after pthread_create succeeded, never in the new thread: the
// creator may be the process's last application thread and end at once, and its exit must
// then bring the count to zero. libtmc's threads never exit (their exit would count down
// an application thread). Returns false when the count cannot be found (a C library other
// than glibc 2.34+): the process then lives on as described above.
bool uncount_own_thread();

}  // namespace tmc::platform
