// 8 threads allocate pattern-filled blocks (malloc, calloc, realloc, new[], aligned new)
// and hand each one through a queue to another thread, which verifies it byte for byte
// and frees it: every block is freed by a thread that did not allocate it. Threads are
// created and joined in waves so thread caches are set up and torn down repeatedly.
#include <malloc.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "tmc_test.h"

namespace {

constexpr int kThreads = 8;
constexpr int kPerThread = 20000;

enum class Kind : uint8_t { kMalloc, kCalloc, kRealloc, kNewArray, kAlignedNew };

struct Block {
  void* ptr;
  size_t size;
  uint64_t seed;
  Kind kind;
  int from;
};

struct Queue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Block> items;
  int producers_done = 0;
};

Queue g_queues[kThreads];
std::atomic<uint64_t> g_verified{0};
std::atomic<uint64_t> g_corrupt{0};
std::atomic<uint64_t> g_self_freed{0};
std::atomic<uint64_t> g_bytes{0};

uint64_t next_rand(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

size_t pick_size(uint64_t r) {
  switch (r % 64) {
    case 0: return 32 * 1024 + (r >> 8) % (288 * 1024);  // large: 32 KiB .. 320 KiB
    case 1: case 2: case 3: case 4: return 1 + (r >> 8) % 8;  // tiny
    case 5: case 6: case 7: case 8: return 1024 + (r >> 8) % 16384;  // medium
    default: return 1 + (r >> 8) % 1024;  // small (most)
  }
}

Block make_block(int self, uint64_t& rng, uint64_t seq) {
  uint64_t r = next_rand(rng);
  Block b{};
  b.size = pick_size(r);
  b.seed = (static_cast<uint64_t>(self) << 40) ^ seq;
  b.kind = static_cast<Kind>((r >> 40) % 5);
  b.from = self;
  switch (b.kind) {
    case Kind::kMalloc: b.ptr = malloc(b.size); break;
    case Kind::kCalloc: {
      b.ptr = calloc(1, b.size);
      if (b.ptr && !tmc_test_all_bytes(b.ptr, b.size, 0)) g_corrupt++;
      break;
    }
    case Kind::kRealloc: {
      // Grow from a smaller block: the first bytes must move along.
      size_t first = b.size / 3 + 1;
      void* p = malloc(first);
      if (!p) break;
      tmc_test_fill(p, first, b.seed);
      b.ptr = realloc(p, b.size);
      if (b.ptr && tmc_test_verify(b.ptr, first, b.seed) >= 0) g_corrupt++;
      break;
    }
    case Kind::kNewArray: b.ptr = new unsigned char[b.size]; break;
    case Kind::kAlignedNew: b.ptr = ::operator new(b.size, std::align_val_t{256}); break;
  }
  if (b.ptr) tmc_test_fill(b.ptr, b.size, b.seed);
  return b;
}

void release(const Block& b) {
  switch (b.kind) {
    case Kind::kMalloc:
    case Kind::kCalloc:
    case Kind::kRealloc: free(b.ptr); break;
    case Kind::kNewArray: delete[] static_cast<unsigned char*>(b.ptr); break;
    case Kind::kAlignedNew: ::operator delete(b.ptr, b.size, std::align_val_t{256}); break;
  }
}

bool check_block(const Block& b, int self) {
  bool ok = true;
  if (b.kind == Kind::kAlignedNew && !tmc_test_aligned(b.ptr, 256)) ok = false;
  if (malloc_usable_size(b.ptr) < b.size) ok = false;
  long bad = tmc_test_verify(b.ptr, b.size, b.seed);
  if (bad >= 0) {
    ok = false;
    fprintf(stderr, "thread %d: block of %zu bytes from thread %d corrupt at byte %ld\n", self, b.size,
            b.from, bad);
  }
  return ok;
}

void consume_some(int self, bool wait_for_all, int expected_producers) {
  Queue& q = g_queues[self];
  for (;;) {
    std::deque<Block> batch;
    {
      std::unique_lock<std::mutex> lk(q.mu);
      if (wait_for_all) {
        q.cv.wait(lk, [&] { return !q.items.empty() || q.producers_done == expected_producers; });
        if (q.items.empty()) return;
      } else if (q.items.empty()) {
        return;
      }
      batch.swap(q.items);
    }
    for (const Block& b : batch) {
      if (!check_block(b, self)) g_corrupt++;
      g_bytes += b.size;
      g_verified++;
      release(b);
    }
  }
}

void worker(int self, int wave) {
  uint64_t rng = 0x1234567ull + static_cast<uint64_t>(self) * 7777 + static_cast<uint64_t>(wave) * 131;
  std::vector<Block> kept;  // a few blocks live across the whole run, checked at the end
  for (int i = 0; i < kPerThread; i++) {
    Block b = make_block(self, rng, static_cast<uint64_t>(i));
    if (!b.ptr) {
      g_corrupt++;
      continue;
    }
    if (i % 1000 == 0) {
      kept.push_back(b);
      continue;
    }
    int to = (self + 1 + i % (kThreads - 1)) % kThreads;  // never ourselves
    {
      std::lock_guard<std::mutex> lk(g_queues[to].mu);
      g_queues[to].items.push_back(b);
    }
    g_queues[to].cv.notify_one();
    if (i % 64 == 0) consume_some(self, false, 0);
  }
  for (int t = 0; t < kThreads; t++) {
    std::lock_guard<std::mutex> lk(g_queues[t].mu);
    g_queues[t].producers_done++;
    g_queues[t].cv.notify_all();
  }
  consume_some(self, true, kThreads);
  for (const Block& b : kept) {
    if (!check_block(b, self)) g_corrupt++;
    g_self_freed++;
    release(b);
  }
}

}  // namespace

int main() {
  const int waves = 3;
  for (int wave = 0; wave < waves; wave++) {
    char msg[160];
    snprintf(msg, sizeof msg, "wave %d: %d threads x %d blocks, every block verified and freed by another thread",
             wave, kThreads, kPerThread);
    tmc_test_step(msg);
    for (Queue& q : g_queues) q.producers_done = 0;
    uint64_t before = g_verified.load();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) threads.emplace_back(worker, t, wave);
    for (auto& th : threads) th.join();
    uint64_t moved = g_verified.load() - before;
    const uint64_t kept_per_thread = (kPerThread + 999) / 1000;
    const uint64_t want = static_cast<uint64_t>(kThreads) * (kPerThread - kept_per_thread);
    CHECK(moved == want, "wave %d: %llu blocks crossed threads, want %llu", wave,
          static_cast<unsigned long long>(moved), static_cast<unsigned long long>(want));
    for (Queue& q : g_queues) CHECK(q.items.empty(), "a queue still holds %zu blocks", q.items.size());
  }
  CHECK(g_corrupt.load() == 0, "%llu blocks were corrupt or failed to allocate",
        static_cast<unsigned long long>(g_corrupt.load()));
  CHECK(g_self_freed.load() == static_cast<uint64_t>(waves * kThreads * ((kPerThread + 999) / 1000)),
        "kept blocks: %llu", static_cast<unsigned long long>(g_self_freed.load()));
  printf("verified %llu cross-thread blocks, %llu MiB\n", static_cast<unsigned long long>(g_verified.load()),
         static_cast<unsigned long long>(g_bytes.load() >> 20));
  return tmc_test_finish("threads_cross_free");
}
