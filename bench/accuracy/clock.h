// Time for the benchmark's phases: the monotonic clock in seconds, sleeping until a point of
// it, and the process's CPU time (every thread: the accessors, libtmc's, the main thread).
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <cstdint>

namespace acc {

inline double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline void sleep_until(double t) {
  for (double left = t - now_s(); left > 0; left = t - now_s()) {
    timespec ts{static_cast<time_t>(left), static_cast<long>((left - static_cast<double>(static_cast<time_t>(left))) * 1e9)};
    nanosleep(&ts, nullptr);
  }
}

inline uint64_t process_cpu_ns() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) { return static_cast<uint64_t>(tv.tv_sec) * 1000000000ull + static_cast<uint64_t>(tv.tv_usec) * 1000ull; };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

}  // namespace acc
