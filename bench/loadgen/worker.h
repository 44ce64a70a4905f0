// One client thread: its connections, the pipelined request/reply loop, and the check of
// every value read. A phase (load, timed run, check, reset) runs the same loop; only where
// the next request comes from differs.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "histogram.h"
#include "options.h"
#include "values.h"
#include "versions.h"

namespace tmc::loadgen {

enum class Phase { kLoad, kRun, kCheck, kReset };
const char* phase_name(Phase p);

struct PhaseStats {
  uint64_t reads = 0, writes = 0;
  uint64_t checked = 0;          // reads whose value was compared
  uint64_t mismatches = 0;       // reads that returned none of the versions the key may hold
  uint64_t write_conflicts = 0;  // writes sent as reads: another write of the key was in flight
  uint64_t skipped = 0;          // --reset: keys already at version 1
  Histogram all, read, write;    // latency (ns) of requests sent inside the measured window
  std::vector<uint64_t> per_second;  // requests completed in each second of the phase
  void merge(const PhaseStats& o);
};

// What the threads of one phase share.
struct PhaseShared {
  const Config* cfg;
  const ValueGen* gen;
  Versions* versions;
  Phase phase;
  uint64_t t_start_ns = 0;    // phase start (CLOCK_MONOTONIC)
  uint64_t t_measure_ns = 0;  // run: start of the measured window (after --warmup)
  uint64_t t_end_ns = 0;      // run with --duration: no request is sent after this
  std::atomic<uint64_t> issued{0};    // run with --ops: requests handed out so far
  std::atomic<uint64_t> next_key{0};  // load/check/reset: the next chunk of keys to claim
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> reports{0};   // mismatch lines printed (the first few only)
  std::mutex error_mu;
  std::string error;
  void fail(const std::string& why);
};

uint64_t now_ns();

// run_thread(shared, index, out): connects cfg->conns connections and runs the phase
// until it is done or another thread failed.
void run_thread(PhaseShared* shared, int index, PhaseStats* out);

}  // namespace tmc::loadgen
