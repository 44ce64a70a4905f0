#include "accessors.h"

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace acc {
namespace {

constexpr int kBatch = 4096;  // accesses between looks at the window, the stop flag, the counters

inline uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, n) without a division (Lemire's multiply-shift).
inline size_t below(uint64_t r, size_t n) {
  return static_cast<size_t>((static_cast<unsigned __int128>(r) * n) >> 64);
}

// One access of 8 bytes of `page`: the low 9 bits of `bits` pick the word, the high 32 bits
// whether it writes.
inline void touch(char* page, uint64_t bits, uint32_t write_threshold, uint64_t& writes, uint64_t& sink) {
  auto* word = reinterpret_cast<volatile uint64_t*>(page + (bits & 511) * 8);
  if (static_cast<uint32_t>(bits >> 32) < write_threshold) {
    // Writes store the word's own value back: a real store (the page becomes dirty, the
    // write faults if the page was evicted), while every page keeps contents that are a
    // function of the seed, so the final check covers the touched pages too.
    *word = *word;
    ++writes;
  } else {
    sink += *word;
  }
}

}  // namespace

void Accessors::start(const Heap* heap, const HotWindow& first, const HotWindow& second, int threads,
                      double write_percent, uint64_t seed) {
  heap_ = heap;
  windows_[0] = first;
  windows_[1] = second;
  launch(static_cast<size_t>(threads), write_percent, seed);
}

void Accessors::start_zipf(const Heap* heap, const ZipfPages* seq, double write_percent) {
  heap_ = heap;
  zipf_ = seq;
  launch(1, write_percent, 0);  // the sequence carries its own seed
}

void Accessors::launch(size_t threads, double write_percent, uint64_t seed) {
  write_threshold_ = static_cast<uint32_t>(write_percent / 100.0 * 4294967295.0);
  slots_.allocate(threads);
  for (size_t t = 0; t < threads; ++t) {
    Slot& s = slots_[t];
    s.owner = this;
    s.seed = seed * 1000003 + static_cast<uint64_t>(t);
    // pthread_create rather than std::thread: std::thread keeps its callable in a
    // heap-allocated state object, which would be a managed page outside the hot set.
    int rc = pthread_create(&s.thread, nullptr, zipf_ != nullptr ? &Accessors::run_zipf : &Accessors::run, &s);
    if (rc != 0) {
      fprintf(stderr, "bench_hotset: pthread_create: %s\n", strerror(rc));
      exit(2);
    }
    pthread_getcpuclockid(s.thread, &s.clock);
  }
}

void* Accessors::run(void* arg) {
  Slot* slot = static_cast<Slot*>(arg);
  Accessors* self = slot->owner;
  const Heap* heap = self->heap_;
  const uint32_t threshold = self->write_threshold_;
  uint64_t rng = slot->seed;
  uint64_t accesses = 0, writes = 0, sink = 0;
  while (!self->stop_.load(std::memory_order_relaxed)) {
    const HotWindow w = self->windows_[self->current_.load(std::memory_order_acquire)];
    for (int i = 0; i < kBatch; ++i) {
      uint64_t r1 = splitmix(rng), r2 = splitmix(rng);
      touch(heap->page(w.page_of(below(r1, w.hot_pages))), r2, threshold, writes, sink);
    }
    accesses += kBatch;
    slot->accesses.store(accesses, std::memory_order_relaxed);
    slot->writes.store(writes, std::memory_order_relaxed);
  }
  // Keeps the reads from being optimised away without making them volatile stores.
  if (sink == 0x5eed) fprintf(stderr, " ");
  return nullptr;
}

void* Accessors::run_zipf(void* arg) {
  Slot* slot = static_cast<Slot*>(arg);
  Accessors* self = slot->owner;
  const Heap* heap = self->heap_;
  const ZipfPages& seq = *self->zipf_;
  const uint32_t threshold = self->write_threshold_;
  Rng rng = seq.stream();
  uint64_t accesses = 0, writes = 0, sink = 0, fp = 0;
  while (!self->stop_.load(std::memory_order_relaxed)) {
    for (int i = 0; i < kBatch; ++i) {
      const Access a = seq.next(rng);
      fp = zipf_fingerprint(fp, a.page);
      touch(heap->page(a.page), a.bits, threshold, writes, sink);
    }
    accesses += kBatch;
    // Published as a whole batch: the count is always a position in the sequence.
    const uint64_t v = slot->version.load(std::memory_order_relaxed);
    slot->version.store(v + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    slot->accesses.store(accesses, std::memory_order_relaxed);
    slot->fingerprint.store(fp, std::memory_order_relaxed);
    slot->writes.store(writes, std::memory_order_relaxed);
    slot->version.store(v + 2, std::memory_order_release);
  }
  if (sink == 0x5eed) fprintf(stderr, " ");  // the reads are used, as in run()
  return nullptr;
}

Accessors::Progress Accessors::progress() const {
  const Slot& s = slots_[0];
  for (;;) {
    const uint64_t v0 = s.version.load(std::memory_order_acquire);
    Progress p{s.accesses.load(std::memory_order_relaxed), s.fingerprint.load(std::memory_order_relaxed)};
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((v0 & 1) == 0 && s.version.load(std::memory_order_relaxed) == v0) return p;
  }
}

void Accessors::shift() { current_.store(1, std::memory_order_release); }

void Accessors::stop() {
  stop_.store(true, std::memory_order_relaxed);
  for (size_t t = 0; t < slots_.size(); ++t) pthread_join(slots_[t].thread, nullptr);
}

uint64_t Accessors::accesses() const {
  uint64_t n = 0;
  for (size_t t = 0; t < slots_.size(); ++t) n += slots_[t].accesses.load(std::memory_order_relaxed);
  return n;
}

uint64_t Accessors::writes() const {
  uint64_t n = 0;
  for (size_t t = 0; t < slots_.size(); ++t) n += slots_[t].writes.load(std::memory_order_relaxed);
  return n;
}

uint64_t Accessors::cpu_ns() const {
  uint64_t n = 0;
  for (size_t t = 0; t < slots_.size(); ++t) {
    timespec ts{};
    if (clock_gettime(slots_[t].clock, &ts) == 0)
      n += static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  }
  return n;
}

}  // namespace acc

