// The exported pthread_create: glibc's, with each new thread armed to bring back what its
// exit will touch (src/runtime/thread_exit.h).
#include <pthread.h>

#include "base/compiler.h"
#include "runtime/thread_exit.h"

extern "C" TMC_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                                         void* arg) {
  return tmc::runtime::create_thread(thread, attr, start, arg);
}
