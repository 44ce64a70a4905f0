// Shared helpers for the whole-program allocation workloads in bench/workloads/.
//
// Every workload does a FIXED amount of work (not a fixed time), so that the elapsed time
// measured by bench/run_overhead.sh is comparable between allocators, verifies the data
// it wrote where that is cheap (a broken allocator must not look fast), and prints exactly
// one result line on stdout:
//
//   <name> threads=N ops=N seconds=S ops_per_s=R malloc_from=LIB check=ok [extra k=v...]
//
// `malloc_from` names the shared object whose `malloc` the program ended up calling, so the
// harness can prove that the LD_PRELOAD under test really took effect.
#pragma once

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace bench {

// splitmix64: tiny, fast and good enough to pick sizes and victims deterministically,
// so every allocator is given exactly the same sequence of requests.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (inclusive); the tiny modulo bias does not matter here.
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }
};

// Reports a verification failure without allocating (the heap may be what is broken)
// and exits with status 3.
[[noreturn]] inline void fail(const char* workload, const char* what) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "%s: VERIFICATION FAILED: %s\n", workload, what);
  if (n > 0) {
    ssize_t r = write(2, buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
    (void)r;
  }
  _exit(3);
}

#define BENCH_CHECK(workload, cond)                                              \
  do {                                                                           \
    if (__builtin_expect(!(cond), 0)) ::bench::fail(workload, #cond " at " __FILE__ ":" BENCH_STR(__LINE__)); \
  } while (0)
#define BENCH_STR2(x) #x
#define BENCH_STR(x) BENCH_STR2(x)

// Basename of the object that defines the `malloc` this process uses: libc.so.6,
// libjemalloc.so.2, libtmc.so, ...
inline std::string malloc_from() {
  void* sym = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info{};
  if (sym == nullptr || dladdr(sym, &info) == 0 || info.dli_fname == nullptr) return "unknown";
  const char* slash = strrchr(info.dli_fname, '/');
  return slash ? slash + 1 : info.dli_fname;
}

// Minimal "-x VALUE" option parsing: every workload takes -t THREADS and -n WORK, and a few
// take extra knobs. Unknown options are an error so a typo can't silently change the work.
struct Args {
  int argc;
  char** argv;
  const char* name;
  const char* usage;

  // Returns the value of option `flag` (e.g. "-t"), or `def` when it is absent.
  uint64_t get(const char* flag, uint64_t def) const {
    for (int i = 1; i < argc; i++) {
      if (strcmp(argv[i], flag) == 0) {
        if (i + 1 >= argc) die();
        char* end = nullptr;
        unsigned long long v = strtoull(argv[i + 1], &end, 0);
        if (end == argv[i + 1] || *end != '\0') die();
        return v;
      }
    }
    return def;
  }
  // Rejects anything that is not one of `known` (a string of flags like "-t -n -s").
  void check(const char* known) const {
    for (int i = 1; i < argc; i += 2) {
      if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
        printf("usage: %s %s\n", name, usage);
        exit(0);
      }
      std::string k = std::string(" ") + known + " ";
      if (argv[i][0] != '-' || k.find(std::string(" ") + argv[i] + " ") == std::string::npos || i + 1 >= argc) die();
    }
  }
  [[noreturn]] void die() const {
    fprintf(stderr, "usage: %s %s\n", name, usage);
    exit(2);
  }
};

class Stopwatch {
 public:
  Stopwatch() : t0_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  std::chrono::steady_clock::time_point t0_;
};

// Prints the one result line. `extra` is appended verbatim (" key=value ...").
inline void report(const char* name, unsigned threads, uint64_t ops, double seconds, const std::string& extra = "") {
  printf("%s threads=%u ops=%llu seconds=%.4f ops_per_s=%.0f malloc_from=%s check=ok%s\n", name, threads,
         static_cast<unsigned long long>(ops), seconds, seconds > 0 ? static_cast<double>(ops) / seconds : 0.0,
         malloc_from().c_str(), extra.c_str());
  fflush(stdout);
}

}  // namespace bench
