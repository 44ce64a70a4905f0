// What one `bench_hotset --dist zipf` run measured (policy_run.cc fills it, policy_report.cc
// prints it) and the goal it is judged by: libtmc's faults per access within 1.5x of an LRU
// simulation's misses per access on the same sequence (issue 12).
#pragma once

#include <cstddef>
#include <cstdint>

#include "options.h"
#include "outside_heap.h"
#include "tmc_view.h"
#include "zipf_pages.h"

namespace acc {

inline constexpr double kGoalLruRatio = 1.5;  // libtmc faults/access over LRU misses/access, at most

// One second of the warm-up.
struct WarmupSample {
  double t_s = 0;
  uint64_t rss_bytes = 0;
  uint64_t faults = 0;    // libtmc's counter
  uint64_t accesses = 0;  // the accessor's
};

// One pagemap census in the window, with libtmc's gauges read next to it.
struct WindowSample {
  double t_s = 0;  // since the window's start
  uint64_t accesses = 0;  // the accessor's position in the sequence when the census began
  size_t resident = 0;  // heap pages present
  size_t band_resident[kBands] = {};
  uint64_t rss_bytes = 0, pool_bytes = 0, compressed_pages = 0;
};

// The LRU simulation at one budget.
enum class Budget {
  kMeanResident,   // (a) the mean of the heap pages present in the window's censuses
  kTraceResident,  // (a') each census's count, from the access it began at to the next
  kTarget,         // (b) what the target leaves room for (PolicyResults::target_budget)
};

struct LruRun {
  Budget kind = Budget::kMeanResident;
  size_t budget = 0;      // pages resident (kTraceResident: the censuses' mean, for show)
  uint64_t misses = 0;    // in the window
  size_t band_resident[kBands] = {};  // at the window's end
};

const char* budget_key(Budget b);   // "resident", "resident_trace", "target" (JSON)
const char* budget_name(Budget b);  // for people

struct PolicyResults {
  Options opt;
  size_t pages = 0;
  double band_access_share[kBands] = {};
  size_t band_pages[kBands] = {};

  double fill_s = 0;
  uint64_t plain_rss = 0;           // VmRSS after the fill: every heap page resident
  uint64_t evictions_at_fill = 0;   // libtmc's evictions by then (0 unless the fill outlasted the cold age)
  uint64_t target_bytes = 0;        // as set; 0 = none
  uint64_t target_stat = 0;         // target_bytes as libtmc reports it in the window

  OutsideArray<WarmupSample> warmup;
  size_t warmup_samples = 0;
  double warmup_s = 0;
  bool settled = false;  // flat before --warmup-max

  // The window: positions [a0, a1) of the sequence.
  double window_s = 0;
  uint64_t a0 = 0, a1 = 0, writes = 0;
  uint64_t fp0 = 0, fp1 = 0;  // the accessor's fingerprints at a0 and a1
  StatsSnapshot s0, s1;
  uint64_t process_cpu_ns = 0, accessor_cpu_ns = 0;
  OutsideArray<WindowSample> samples;
  size_t n_samples = 0;

  // The replay.
  LruRun lru[3];  // (a), (a'), and (b) when a target is set
  int n_lru = 0;
  double replay_s = 0;
  size_t touched_before_window = 0;  // distinct pages the sequence touched before a0
  bool replay_matches = false;       // fingerprints equal at a0 and a1

  // The final check of every page.
  size_t checked = 0, bad = 0;
  double check_s = 0;
  uint64_t check_faults = 0;
  StatsSnapshot final_stats;

  // Derived (policy_report.cc).
  uint64_t accesses() const { return a1 - a0; }
  uint64_t delta(const char* stat) const { return s1.get_or_zero(stat) - s0.get_or_zero(stat); }
  double faults_per_access() const;
  double lru_misses_per_access(int i) const;
  double ratio(int i) const;  // libtmc over LRU i; inf when LRU never missed
  double mean_resident() const;
  double mean_rss() const;
  double mean_pool() const;
  // Pool bytes per compressed page (waste included), over the window's samples.
  double pool_per_page() const;
  // Everything in VmRSS that is neither a resident heap page nor the pool: program,
  // libraries, libtmc's page table, staging ring and dictionary, the benchmark's bookkeeping.
  double fixed_overhead() const;
  // What RSS would be with every heap page compressed: overhead + pages * pool_per_page.
  double all_compressed_bytes() const;
  // (b): R with R * 4096 + (pages - R) * pool_per_page + overhead = target, in [0, pages].
  size_t target_budget() const;
};

void print_policy_table(const PolicyResults& r, FILE* f);
void print_policy_json(const PolicyResults& r, FILE* f);

}  // namespace acc
