// What the reclaimer evicts and how fast: pure decisions, no system calls, so each can be
// unit-tested. The reclaimer (reclaim/reclaimer.cc) feeds them what it measured.
//
//  - AgeHistogram + threshold_for_target(): TMC_TARGET. Each pass counts the evictable
//    pages by age; the next pass evicts pages from the oldest down until enough would go
//    to bring RSS to the target ("coldest first").
//  - eligible(): a page is evicted once its age reaches the threshold times 2^heat (thrash
//    back-off, heap/page_state.h), and next_heat() is how the fault thread moves heat.
//  - Pacer: TMC_CPU_BUDGET, a leaky bucket of CPU time earned at `share` of the wall clock.
//  - hold_fault(): TMC_TARGET_HOLD, how the fault thread keeps RSS at the target under load.
#pragma once

#include <cstdint>

namespace tmc::policy {

// Pages by age in epochs, in power-of-two buckets: bucket b holds ages [2^(b-1), 2^b),
// bucket 0 holds age 0.
struct AgeHistogram {
  static constexpr int kBuckets = 26;  // ages up to 2^24 epochs, the epoch field's range
  uint64_t pages[kBuckets] = {};
  static int bucket(uint32_t age) { return age == 0 ? 0 : 32 - __builtin_clz(age); }
  static uint32_t bucket_floor(int b) { return b == 0 ? 0 : uint32_t{1} << (b - 1); }
  void add(uint32_t age) { ++pages[bucket(age)]; }
  void clear() { *this = AgeHistogram{}; }
  uint64_t total() const;
};

inline constexpr uint32_t kNoThreshold = UINT32_MAX;

// The age (epochs) from which pages must be evicted so that about `pages_needed` of the
// pages counted in `h` go, oldest first: the floor of the youngest bucket still needed.
// Never below 1 (a page used in this very epoch stays). kNoThreshold when none are needed.
uint32_t threshold_for_target(const AgeHistogram& h, uint64_t pages_needed);

// How many pages must be evicted to bring rss_bytes down to target_bytes, when an evicted
// page leaves 1/ratio of itself behind in the pool. 0 when already at or below the target.
uint64_t pages_to_target(uint64_t rss_bytes, uint64_t target_bytes, double ratio);

// Whether a resident page of age `age` and heat `heat` is evicted at `threshold`.
inline bool eligible(uint32_t age, uint8_t heat, uint32_t threshold) {
  if (threshold == kNoThreshold) return false;
  uint64_t needed = static_cast<uint64_t>(threshold) << heat;
  return age >= needed;
}

// A page's heat after it was faulted back `distance` epochs after its eviction, with the
// age threshold at `threshold`: up when it came back sooner than it had waited to go
// (threshold * 2^heat: its use is more frequent than its wait, so evicting it was a
// mistake), down when it stayed out at least twice that long. Reads of a resident page
// are invisible, so a page used every T is evicted after its wait and back within T:
// the heat climbs until the wait exceeds T, by doubling.
uint8_t next_heat(uint8_t heat, uint32_t distance, uint32_t threshold, uint8_t max_heat);

// TMC_CPU_BUDGET. charge() is called with the thread's CPU clock and the wall clock after
// each piece of work; it returns how long to sleep to stay within `share` (0..1) of one
// core. It lets the work run in bursts of about 2 * kBurstNs and then sleeps once for
// the whole debt: a sleep after every small batch cost measurably more CPU per page (each
// wake-up finds the dictionary, hash table and page tables cold). Credit saved while idle
// is capped, so a quiet minute does not buy a long burst.
class Pacer {
 public:
  static constexpr uint64_t kMaxCreditNs = 20'000'000;  // 20 ms
  static constexpr uint64_t kBurstNs = 4'000'000;       // 4 ms
  void reset(uint64_t wall_ns, uint64_t cpu_ns);
  uint64_t charge(uint64_t wall_ns, uint64_t cpu_ns, double share);

 private:
  uint64_t last_wall_ = 0;
  uint64_t last_cpu_ = 0;
  int64_t credit_ = 0;
};

// Holding RSS at TMC_TARGET under load, as cgroup v2's memory.high does by throttling the
// tasks that allocate: evicting alone cannot, when faults bring pages back faster than the
// reclaimer, within its budget, sends them out again. So while RSS is more than
// hold_slack() above the target, a fault that would add memory waits, up to `max_ns`, for
// the reclaimer to make room; each eviction lets one fault go on. The application slows to
// the rate at which the reclaimer frees memory instead of outgrowing the target.
uint64_t hold_slack(uint64_t target_bytes);  // 2% of the target, at least 1 MiB
inline bool hold_fault(int64_t over_target_bytes, uint64_t slack, uint64_t waited_ns, uint64_t max_ns) {
  return over_target_bytes > static_cast<int64_t>(slack) && waited_ns < max_ns;
}

}  // namespace tmc::policy
