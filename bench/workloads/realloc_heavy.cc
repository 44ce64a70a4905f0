// realloc_heavy: buffers grown by realloc in small steps, the way naive C code builds
// strings and arrays, plus std::string appends, with occasional shrinking; a fixed amount
// of work per thread.
//
// Each thread keeps 512 C buffers and 64 std::strings alive. A step picks one at random:
//  - 3 in 4 steps grow a C buffer by 1..64 bytes with realloc and fill the new bytes; a
//    buffer that reaches its target length (256 B..16 KiB, 1 in 16 up to 256 KiB) is checked
//    in full, then either shrunk with realloc to a quarter and grown again (1 in 4) or freed
//    and started anew from realloc(NULL, ...);
//  - 1 in 4 steps append a 3..12-byte word to a std::string (operator new/delete doubling);
//    one that reaches its target (up to 8 KiB) is checked, then cleared and shrunk to fit,
//    or replaced by a copy of its second half.
//
// Verification: buffer contents are a function of (buffer seed, position); the last byte
// before each growth and the first byte are checked after every realloc, and the whole
// buffer when it reaches its target and at the end. Strings are checked against a running
// hash of what was appended.
//
// usage: bench_realloc_heavy [-t threads=2] [-n steps per thread=10000000] [-s seed=7]
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "workload_common.h"

namespace {

constexpr const char* kName = "realloc_heavy";
constexpr size_t kBuffers = 512;
constexpr size_t kStrings = 64;

inline char byte_at(uint32_t seed, size_t pos) { return static_cast<char>(seed + pos * 131 + (pos >> 8)); }

struct Buf {
  char* p = nullptr;
  size_t len = 0;
  size_t target = 0;
  uint32_t seed = 0;
};

struct Str {
  std::string s;
  size_t target = 0;
  uint64_t hash = 0;  // FNV-1a of s
};

inline uint64_t fnv(uint64_t h, const char* p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001B3ull;
  return h;
}
constexpr uint64_t kFnvInit = 0xCBF29CE484222325ull;

void check_buf(const Buf& b) {
  for (size_t i = 0; i < b.len; i++) BENCH_CHECK(kName, b.p[i] == byte_at(b.seed, i));
}

void new_target(Buf& b, bench::Rng& rng) {
  b.target = (rng.next() % 16 == 0) ? rng.range(16384, 262144) : rng.range(256, 16384);
}

struct Counts {
  uint64_t reallocs = 0, appends = 0, shrinks = 0, frees = 0;
};

void run(unsigned t, uint64_t steps, uint64_t seed, Counts* out) {
  bench::Rng rng(seed * 7919 + t);
  std::vector<Buf> bufs(kBuffers);
  std::vector<Str> strs(kStrings);
  for (auto& b : bufs) {
    b.seed = static_cast<uint32_t>(rng.next());
    new_target(b, rng);
  }
  for (auto& s : strs) {
    s.target = rng.range(64, 8192);
    s.hash = kFnvInit;
  }
  static const char* const kWords[] = {"malloc", "free", "realloc", "arena", "extent", "slab",  "tcache",
                                       "bin",    "page", "huge",    "small", "large",  "purge", "decay"};
  constexpr size_t kNumWords = sizeof kWords / sizeof kWords[0];
  Counts c;
  for (uint64_t i = 0; i < steps; i++) {
    uint64_t r = rng.next();
    if ((r & 3) != 0) {
      Buf& b = bufs[(r >> 2) % kBuffers];
      size_t grow = 1 + ((r >> 20) & 63);
      size_t nlen = b.len + grow;
      char* np = static_cast<char*>(realloc(b.p, nlen));
      BENCH_CHECK(kName, np != nullptr);
      if (b.len > 0) {
        BENCH_CHECK(kName, np[0] == byte_at(b.seed, 0));
        BENCH_CHECK(kName, np[b.len - 1] == byte_at(b.seed, b.len - 1));
      }
      for (size_t k = b.len; k < nlen; k++) np[k] = byte_at(b.seed, k);
      b.p = np;
      b.len = nlen;
      c.reallocs++;
      if (b.len >= b.target) {
        check_buf(b);
        if (((r >> 30) & 3) == 0) {
          b.len /= 4;
          b.p = static_cast<char*>(realloc(b.p, b.len));
          BENCH_CHECK(kName, b.p != nullptr);
          BENCH_CHECK(kName, b.p[b.len - 1] == byte_at(b.seed, b.len - 1));
          c.shrinks++;
        } else {
          free(b.p);
          b.p = nullptr;
          b.len = 0;
          b.seed = static_cast<uint32_t>(rng.next());
          c.frees++;
        }
        new_target(b, rng);
      }
    } else {
      Str& s = strs[(r >> 2) % kStrings];
      const char* w = kWords[(r >> 20) % kNumWords];
      size_t wl = strlen(w);
      size_t take = 3 + ((r >> 40) % 10);  // 3..12 bytes: the word, repeated as needed
      for (size_t k = 0; k < take; k++) {
        s.s.push_back(w[k % wl]);
        s.hash = fnv(s.hash, &w[k % wl], 1);
      }
      c.appends++;
      if (s.s.size() >= s.target) {
        BENCH_CHECK(kName, fnv(kFnvInit, s.s.data(), s.s.size()) == s.hash);
        if ((r >> 50) & 1) {
          s.s.clear();
          s.s.shrink_to_fit();
        } else {
          s.s = s.s.substr(s.s.size() / 2);
        }
        s.hash = fnv(kFnvInit, s.s.data(), s.s.size());
        s.target = rng.range(64, 8192);
      }
    }
  }
  for (auto& b : bufs) {
    check_buf(b);
    free(b.p);
  }
  for (auto& s : strs) BENCH_CHECK(kName, fnv(kFnvInit, s.s.data(), s.s.size()) == s.hash);
  *out = c;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args{argc, argv, kName, "[-t threads] [-n steps/thread] [-s seed]"};
  args.check("-t -n -s");
  const unsigned threads = static_cast<unsigned>(args.get("-t", 2));
  const uint64_t steps = args.get("-n", 10000000);
  const uint64_t seed = args.get("-s", 7);
  if (threads == 0) args.die();

  std::vector<Counts> counts(threads);
  bench::Stopwatch sw;
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; t++) ts.emplace_back(run, t, steps, seed, &counts[t]);
  for (auto& t : ts) t.join();
  double secs = sw.seconds();

  Counts sum;
  for (auto& c : counts) {
    sum.reallocs += c.reallocs;
    sum.appends += c.appends;
    sum.shrinks += c.shrinks;
    sum.frees += c.frees;
  }
  BENCH_CHECK(kName, sum.reallocs + sum.appends == threads * steps);
  char extra[160];
  snprintf(extra, sizeof extra, " reallocs=%llu appends=%llu shrinks=%llu frees=%llu",
           static_cast<unsigned long long>(sum.reallocs), static_cast<unsigned long long>(sum.appends),
           static_cast<unsigned long long>(sum.shrinks), static_cast<unsigned long long>(sum.frees));
  // ops = steps (one realloc or one append each)
  bench::report(kName, threads, threads * steps, secs, extra);
  return 0;
}
