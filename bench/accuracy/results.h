// What one run of bench_hotset measured, phase by phase, and the goals it is judged by
// (issue 4, "Cold detection and memory targets"). report.cc prints it; hotset.cc fills it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "options.h"
#include "outside_heap.h"
#include "pagemap.h"
#include "tmc_view.h"

namespace acc {

inline constexpr double kGoalColdCompressed = 0.95;   // share of cold pages out of RSS, at least
inline constexpr double kGoalHotFaultShare = 0.001;   // share of hot accesses that fault, at most
inline constexpr double kGoalBackgroundCpu = 0.05;    // libtmc's CPU, cores, at most

// One second of following a moved hot set.
struct ShiftSample {
  double t_s = 0;            // since the move
  double new_present = 0;    // share of the new hot set in the page tables
  double old_absent = 0;     // share of the old hot set evicted
  double faults_per_s = 0;
  double accesses_per_s = 0;
  uint64_t rss_bytes = 0;
};

struct Results {
  Options opt;
  size_t pages = 0, hot_pages = 0, cold_pages = 0;
  double cold_age_s = -1;  // TMC_COLD_AGE as the program read it (-1: not set, libtmc's default)

  double fill_s = 0;
  double warmup_s = 0;     // how long the warm-up really ran
  bool settled = false;    // it ended because cold pages had stopped going (not at --warmup-max)
  double cold95_after_s = -1;  // warm-up time until 95% of the cold pages were evicted; -1 never

  // The measured window.
  double window_s = 0;
  uint64_t accesses = 0, writes = 0;
  PageCensus start, end;  // in_a = hot set, the rest cold
  StatsSnapshot s0, s1;
  uint64_t process_cpu_ns = 0, accessor_cpu_ns = 0;

  // --shift.
  OutsideArray<ShiftSample> shift;
  size_t shift_samples = 0;
  double new99_after_s = -1;  // first sample with 99% of the new hot set present
  double old95_after_s = -1;  // first sample with 95% of the old hot set evicted

  // The final check of every page.
  size_t checked = 0, bad_cold = 0, bad_hot = 0;
  double check_s = 0;
  uint64_t check_faults = 0;
  StatsSnapshot final_stats;

  // Derived.
  uint64_t delta(const char* stat) const { return s1.get_or_zero(stat) - s0.get_or_zero(stat); }
  double cold_compressed() const;
  double hot_fault_share() const;
  double background_cpu() const;  // cores
};

void print_table(const Results& r, FILE* f);
void print_json(const Results& r, FILE* f);

}  // namespace acc
