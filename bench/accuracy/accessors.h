// The accessors: threads that touch random pages in a tight loop, reading or writing 8 bytes
// at a random offset, and count what they did. Either pages of the current hot window
// (uniformly), or, one thread, the pages of a Zipf sequence (zipf_pages.h).
// Everything they read besides the data (chunk table, windows, counters) lives outside the
// managed heap (outside_heap.h), so the only managed pages they touch are hot-set pages.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "heap.h"
#include "hot_window.h"
#include "outside_heap.h"
#include "zipf_pages.h"

namespace acc {

class Accessors {
 public:
  // Starts `threads` threads on windows[0]; write_percent of their accesses write.
  void start(const Heap* heap, const HotWindow& first, const HotWindow& second, int threads,
             double write_percent, uint64_t seed);
  // Starts one thread on the sequence of `seq`, from its start.
  void start_zipf(const Heap* heap, const ZipfPages* seq, double write_percent);
  // Moves every thread to the second window (the threads pick it up within ~4096 accesses).
  void shift();
  void stop();

  uint64_t accesses() const;
  uint64_t writes() const;
  // Zipf: the accesses made so far and a fingerprint of their pages (zipf_fingerprint over
  // the sequence), read together: the simulation replays exactly that many and checks it
  // drew the same pages.
  struct Progress {
    uint64_t accesses = 0;
    uint64_t fingerprint = 0;
  };
  Progress progress() const;
  // CPU time of the accessor threads together (ns), from their thread CPU clocks.
  uint64_t cpu_ns() const;

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> accesses{0};
    std::atomic<uint64_t> writes{0};
    // A sequence lock over accesses and fingerprint: odd while the thread updates them.
    std::atomic<uint64_t> version{0};
    std::atomic<uint64_t> fingerprint{0};
    Accessors* owner = nullptr;
    uint64_t seed = 0;
    pthread_t thread{};
    clockid_t clock{};
  };
  void launch(size_t threads, double write_percent, uint64_t seed);
  static void* run(void* slot);
  static void* run_zipf(void* slot);

  const Heap* heap_ = nullptr;
  const ZipfPages* zipf_ = nullptr;
  HotWindow windows_[2];
  uint32_t write_threshold_ = 0;  // an access writes when 32 random bits fall below this
  alignas(64) std::atomic<int> current_{0};
  std::atomic<bool> stop_{false};
  OutsideArray<Slot> slots_;
};

}  // namespace acc
