// The report of a loadgen invocation: one human line per phase on stderr, and the JSON
// document (--json) with every phase's counts, throughput, latency percentiles and CDF.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "options.h"
#include "worker.h"

namespace tmc::loadgen {

struct PhaseResult {
  Phase phase;
  PhaseStats stats;
  double seconds = 0;      // the measured window
  double client_cpu = 0;   // client CPU seconds (user + system) during the phase
};

void print_human(const Config& cfg, const PhaseResult& r);
// write_json(cfg, results, error, out): the whole report.
void write_json(const Config& cfg, const std::vector<PhaseResult>& results, const std::string& error, FILE* out);

}  // namespace tmc::loadgen
