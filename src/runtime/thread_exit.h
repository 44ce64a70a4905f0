// Bringing back what a thread's exit will touch, before it exits.
//
// When a thread exits, the kernel walks its robust-mutex list (marking each robust mutex it
// still holds owner-died and waking a waiter) and clears its clear_child_tid word (which
// pthread_join waits on). It does so after the thread can no longer fault: an exiting task's
// faults are not served, so on an evicted page the walk just stops, and the next locker of
// a robust mutex whose holder died waits forever instead of getting EOWNERDEAD.
//
// So every thread, on its way out (a pthread key destructor, which runs after the thread's
// start routine returned or pthread_exit unwound it, after its thread_local destructors),
// brings back the pages of its robust list (entries and futex words, the pending one too)
// and of its clear_child_tid, and pins them (heap/eviction_gate.h) until it has exited.
// The key is armed in each new thread by libtmc's pthread_create (preload/threads.cc) and
// in the main thread by the library constructor.
#pragma once

#include <pthread.h>

namespace tmc::runtime {

// pthread_create as libtmc exports it: glibc's, with the new thread starting in a
// trampoline that arms the exit hook. Allocation-free (libtmc's own threads come this way,
// in a forked child too).
int create_thread(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg);

// In a forked child, before libtmc starts its threads there: a program thread of the parent
// creating or starting a thread may have held the start records' lock at the fork (the
// child's fault thread waited for it for good). The free list is consistent at every store.
void thread_exit_after_fork_child();

// Makes the exit hook's pthread key. Called at start-up, early, so that the key is among
// the first 32 of the process: glibc keeps their values in the thread descriptor, while
// later keys get a block from malloc, which libtmc's own threads must not call.
void thread_exit_init();

// Arms the exit hook in the calling thread.
void arm_thread_exit_hook();

// Brings back and pins what the calling thread's exit will touch; the exit hook's work.
void prepare_thread_exit();

}  // namespace tmc::runtime
