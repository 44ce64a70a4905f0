// Fast-path micro-benchmarks of the malloc family and C++ new/delete.
//
// One binary, never linked to libtmc: bench/run_overhead.sh runs it plain (glibc), with
// jemalloc preloaded and with libtmc preloaded, and compares the per-benchmark medians.
// The context of every run records which object `malloc` resolved to ("malloc_from"), so a
// preload that silently failed to interpose shows up in the JSON.
//
// Every allocated pointer goes through benchmark::DoNotOptimize and gets one byte written,
// so the compiler can't elide a malloc/free or new/delete pair.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace {

inline void touch(void* p) {
  // As an input only: with the read-write form ("+m,r"), gcc 12 -O2 -fsanitize=undefined
  // stored through a stale copy of p (a null pointer) after the asm.
  benchmark::DoNotOptimize(std::as_const(p));
  *static_cast<volatile char*>(p) = 1;
}

// malloc + free of one size, back to back: the thread-cache hit path.
void BM_MallocFree(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = malloc(size);
    touch(p);
    free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MallocFree)->Arg(16)->Arg(64)->Arg(256)->Arg(1024)->Arg(4096)->Arg(32768);
BENCHMARK(BM_MallocFree)->Arg(64)->Arg(4096)->Threads(2)->UseRealTime();

// Allocate 1000 objects, then free them all (in allocation order): exercises filling and
// flushing the thread cache, not just one hot slot.
void BM_BatchAllocFree(benchmark::State& state) {
  constexpr size_t kCount = 1000;
  const size_t size = static_cast<size_t>(state.range(0));
  std::vector<void*> ptrs(kCount);
  for (auto _ : state) {
    for (size_t i = 0; i < kCount; i++) {
      ptrs[i] = malloc(size);
      touch(ptrs[i]);
    }
    for (size_t i = 0; i < kCount; i++) free(ptrs[i]);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kCount);
}
BENCHMARK(BM_BatchAllocFree)->Arg(64)->Arg(1024);
BENCHMARK(BM_BatchAllocFree)->Arg(64)->Threads(2)->UseRealTime();

// Grow a buffer from 16 bytes to `range(0)` bytes in 64-byte steps with realloc, then free.
void BM_ReallocGrow(benchmark::State& state) {
  const size_t limit = static_cast<size_t>(state.range(0));
  size_t steps = 0;
  for (auto _ : state) {
    void* p = malloc(16);
    touch(p);
    for (size_t s = 64; s <= limit; s += 64) {
      p = realloc(p, s);
      touch(p);
      steps++;
    }
    free(p);
  }
  state.SetItemsProcessed(static_cast<int64_t>(steps));
}
BENCHMARK(BM_ReallocGrow)->Arg(4096)->Arg(65536);

// calloc + free: the zeroing path (small sizes memset, large ones may get fresh pages).
void BM_CallocFree(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = calloc(1, size);
    touch(p);
    free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CallocFree)->Arg(64)->Arg(4096);

// posix_memalign + free: the aligned entry point.
void BM_PosixMemalignFree(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = nullptr;
    if (posix_memalign(&p, 64, size) != 0) state.SkipWithError("posix_memalign failed");
    touch(p);
    free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PosixMemalignFree)->Arg(256);

// ::operator new + unsized ::operator delete.
void BM_NewDelete(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = ::operator new(size);
    touch(p);
    ::operator delete(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NewDelete)->Arg(16)->Arg(64)->Arg(1024);

// ::operator new + sized ::operator delete (what compilers emit for `delete obj`).
void BM_NewDeleteSized(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = ::operator new(size);
    touch(p);
    ::operator delete(p, size);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NewDeleteSized)->Arg(64);
BENCHMARK(BM_NewDeleteSized)->Arg(64)->Threads(2)->UseRealTime();

std::string malloc_from() {
  void* sym = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info{};
  if (sym == nullptr || dladdr(sym, &info) == 0 || info.dli_fname == nullptr) return "unknown";
  const char* slash = strrchr(info.dli_fname, '/');
  return slash ? slash + 1 : info.dli_fname;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("malloc_from", malloc_from());
  const char* preload = getenv("LD_PRELOAD");
  benchmark::AddCustomContext("ld_preload", preload ? preload : "");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
