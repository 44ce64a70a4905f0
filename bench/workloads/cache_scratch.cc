// cache_scratch: the allocator false-sharing test in the style of Hoard's cache-scratch
// (as used by mimalloc-bench), written from its description, with a fixed amount of work.
//
// The main thread allocates one small object per worker, back to back, so they likely
// share cache lines, and hands object i to worker i. Each worker writes to its object many
// times, then frees it and, I times, allocates a fresh object of the same size, writes it
// R times and frees it. An allocator that hands a worker memory on a cache line another
// worker is writing (passive false sharing, e.g. by recycling the object freed by a thread
// other than its allocator into the freeing thread's cache) makes the writes ping-pong
// cache lines between cores and the run much slower; a good one costs ~nothing.
//
// Verification: after writing an object each worker reads it back completely.
//
// usage: bench_cache_scratch [-t threads=2] [-n iterations=1000] [-r writes per object=400000]
//                            [-z object size=8]
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "workload_common.h"

namespace {

constexpr const char* kName = "cache_scratch";

// Writes every byte of p[0..size) `reps` times through a volatile pointer (so the stores
// really happen), then checks the result. Returns the number of byte writes.
uint64_t scratch(char* p, size_t size, uint64_t reps, unsigned salt) {
  volatile char* v = p;
  for (size_t k = 0; k < size; k++) v[k] = static_cast<char>(k + salt);
  for (uint64_t r = 0; r < reps; r++) {
    for (size_t k = 0; k < size; k++) v[k] = static_cast<char>(v[k] + 1);
  }
  for (size_t k = 0; k < size; k++) BENCH_CHECK(kName, v[k] == static_cast<char>(k + salt + reps));
  return reps * size;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args{argc, argv, kName, "[-t threads] [-n iterations] [-r writes/object] [-z object size]"};
  args.check("-t -n -r -z");
  const unsigned threads = static_cast<unsigned>(args.get("-t", 2));
  const uint64_t iters = args.get("-n", 1000);
  const uint64_t reps = args.get("-r", 400000);
  const size_t size = args.get("-z", 8);
  if (threads == 0 || size == 0) args.die();

  std::vector<char*> initial(threads);
  for (unsigned t = 0; t < threads; t++) {
    initial[t] = static_cast<char*>(malloc(size));
    BENCH_CHECK(kName, initial[t] != nullptr);
  }

  std::vector<uint64_t> writes(threads, 0);
  bench::Stopwatch sw;
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; t++) {
    workers.emplace_back([&, t] {
      uint64_t w = scratch(initial[t], size, reps, t);
      free(initial[t]);  // freed by a thread other than the one that allocated it
      for (uint64_t i = 0; i < iters; i++) {
        char* p = static_cast<char*>(malloc(size));
        BENCH_CHECK(kName, p != nullptr);
        w += scratch(p, size, reps, static_cast<unsigned>(t + i));
        free(p);
      }
      writes[t] = w;
    });
  }
  for (auto& w : workers) w.join();
  double secs = sw.seconds();

  uint64_t total = 0;
  for (uint64_t w : writes) total += w;
  BENCH_CHECK(kName, total == threads * (iters + 1) * reps * size);
  char extra[96];
  snprintf(extra, sizeof extra, " iterations=%llu object_size=%zu", static_cast<unsigned long long>(iters), size);
  // ops = byte writes
  bench::report(kName, threads, total, secs, extra);
  return 0;
}
