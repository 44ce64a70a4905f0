// larson: a server-like workload in the style of Larson & Krishnan's benchmark (as used by
// mimalloc-bench), written from its description, with a fixed amount of work.
//
// Each of T "chains" owns an array of C slots holding live objects of random size
// (16..1024 bytes). A chain runs as a sequence of G short-lived thread generations: each
// generation's thread performs O operations, each one freeing a randomly chosen slot's
// object and putting a freshly allocated one of random size in its place, then exits and
// hands the array (and so every object it allocated) to the next generation's new thread.
// The initial objects are allocated by the main thread and the survivors are freed by it,
// so many frees happen on a thread other than the one that allocated, and thread caches are
// constantly created and torn down.
//
// Verification: every object carries a tag (slot, size, chain) in its first 8 bytes and a
// check byte in its last byte, both checked before it is freed.
//
// usage: bench_larson [-t chains/threads=2] [-n generations=100] [-o ops per generation=500000]
//                     [-c slots per chain=5000] [-s seed=4141]
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "workload_common.h"

namespace {

constexpr const char* kName = "larson";
constexpr uint64_t kMinSize = 16;
constexpr uint64_t kMaxSize = 1024;

struct Slot {
  char* p;
  uint32_t size;
};

struct Chain {
  unsigned id;
  std::vector<Slot> slots;
  bench::Rng rng;
  uint64_t ops = 0;
  Chain(unsigned i, size_t n, uint64_t seed) : id(i), slots(n), rng(seed) {}
};

inline uint64_t tag_of(unsigned chain, size_t slot, uint32_t size) {
  return (static_cast<uint64_t>(chain) << 56) ^ (static_cast<uint64_t>(slot) << 20) ^ size ^ 0x5A5A000000000000ull;
}

inline char* make(unsigned chain, size_t slot, uint32_t size) {
  char* p = static_cast<char*>(malloc(size));
  BENCH_CHECK(kName, p != nullptr);
  uint64_t tag = tag_of(chain, slot, size);
  memcpy(p, &tag, sizeof tag);
  p[size - 1] = static_cast<char>(slot * 7 + size);
  return p;
}

inline void check_and_free(unsigned chain, size_t slot, const Slot& s) {
  uint64_t tag;
  memcpy(&tag, s.p, sizeof tag);
  BENCH_CHECK(kName, tag == tag_of(chain, slot, s.size));
  BENCH_CHECK(kName, s.p[s.size - 1] == static_cast<char>(slot * 7 + s.size));
  free(s.p);
}

// One thread generation: O random replace operations on the chain's array.
void generation(Chain* c, uint64_t ops) {
  const size_t n = c->slots.size();
  for (uint64_t i = 0; i < ops; i++) {
    size_t victim = c->rng.next() % n;
    Slot& s = c->slots[victim];
    check_and_free(c->id, victim, s);
    uint32_t size = static_cast<uint32_t>(c->rng.range(kMinSize, kMaxSize));
    s.p = make(c->id, victim, size);
    s.size = size;
  }
  c->ops += ops;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args{argc, argv, kName, "[-t threads] [-n generations] [-o ops/generation] [-c slots] [-s seed]"};
  args.check("-t -n -o -c -s");
  const unsigned threads = static_cast<unsigned>(args.get("-t", 2));
  const uint64_t gens = args.get("-n", 100);
  const uint64_t ops = args.get("-o", 500000);
  const uint64_t nslots = args.get("-c", 5000);
  const uint64_t seed = args.get("-s", 4141);
  if (threads == 0 || nslots == 0) args.die();

  // The main thread allocates every chain's initial objects.
  std::vector<Chain*> chains;
  for (unsigned t = 0; t < threads; t++) {
    Chain* c = new Chain(t, nslots, seed + t);
    for (size_t i = 0; i < nslots; i++) {
      uint32_t size = static_cast<uint32_t>(c->rng.range(kMinSize, kMaxSize));
      c->slots[i] = {make(t, i, size), size};
    }
    chains.push_back(c);
  }

  bench::Stopwatch sw;
  // A driver per chain starts each generation's thread and waits for it to exit before
  // starting the next, so chains never wait on each other. Drivers only sleep in join().
  std::vector<std::thread> drivers;
  for (unsigned t = 0; t < threads; t++) {
    drivers.emplace_back([c = chains[t], gens, ops] {
      for (uint64_t g = 0; g < gens; g++) {
        std::thread worker(generation, c, ops);
        worker.join();
      }
    });
  }
  for (auto& d : drivers) d.join();
  double secs = sw.seconds();

  uint64_t total = 0;
  for (Chain* c : chains) {
    for (size_t i = 0; i < c->slots.size(); i++) check_and_free(c->id, i, c->slots[i]);
    total += c->ops;
    delete c;
  }
  BENCH_CHECK(kName, total == static_cast<uint64_t>(threads) * gens * ops);
  char extra[96];
  snprintf(extra, sizeof extra, " generations=%llu slots=%llu", static_cast<unsigned long long>(gens),
           static_cast<unsigned long long>(nslots));
  bench::report(kName, threads, total, secs, extra);
  return 0;
}
