// tmc_loadgen: a load generator for Redis and memcached with realistic, checkable values.
// Phases run one after another, each with --threads threads of --conns connections;
// see options.cc for the command line and worker.cc for the request loop.
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "options.h"
#include "ratio.h"
#include "report.h"
#include "values.h"
#include "versions.h"
#include "worker.h"

using namespace tmc::loadgen;

namespace {

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// run_phase: the phase on all threads; false (and *error) when it failed.
bool run_phase(const Config& cfg, const ValueGen& gen, Versions& versions, Phase phase, PhaseResult* out,
               std::string* error) {
  PhaseShared sh;
  sh.cfg = &cfg;
  sh.gen = &gen;
  sh.versions = &versions;
  sh.phase = phase;
  sh.t_start_ns = now_ns();
  sh.t_measure_ns = sh.t_start_ns;
  if (phase == Phase::kRun) {
    sh.t_measure_ns += static_cast<uint64_t>(cfg.warmup_s * 1e9);
    if (cfg.duration_s > 0) sh.t_end_ns = sh.t_start_ns + static_cast<uint64_t>(cfg.duration_s * 1e9);
  }
  const double cpu0 = cpu_seconds();
  std::vector<PhaseStats> stats(static_cast<size_t>(cfg.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < cfg.threads; ++t) threads.emplace_back(run_thread, &sh, t, &stats[static_cast<size_t>(t)]);
  for (auto& t : threads) t.join();
  const uint64_t t_done = now_ns();
  out->phase = phase;
  for (const auto& s : stats) out->stats.merge(s);
  // The measured window ends when the last request was due to be sent (--duration) or when
  // the last reply arrived (--ops, sequential phases).
  const uint64_t t_end = phase == Phase::kRun && cfg.duration_s > 0 ? std::min(t_done, sh.t_end_ns) : t_done;
  out->seconds = static_cast<double>(t_end - sh.t_measure_ns) / 1e9;
  out->client_cpu = cpu_seconds() - cpu0;
  if (sh.failed) {
    *error = sh.error;
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  bool exit_now = false;
  int rc = parse_args(argc, argv, &cfg, &exit_now);
  if (exit_now) return rc;
  ValueGen gen(cfg.seed, cfg.types, cfg.sizes, cfg.distinct);

  if (cfg.ratio || !cfg.sample_path.empty()) {
    std::string sample;
    const double mean = sample_values(gen, cfg.keys, cfg.sample_bytes, &sample);
    if (!cfg.sample_path.empty()) {
      FILE* f = std::fopen(cfg.sample_path.c_str(), "wb");
      if (!f || std::fwrite(sample.data(), 1, sample.size(), f) != sample.size() || std::fclose(f) != 0) {
        std::fprintf(stderr, "tmc_loadgen: cannot write --sample %s: %s\n", cfg.sample_path.c_str(), std::strerror(errno));
        return 2;
      }
    }
    if (cfg.ratio) print_ratio(sample, mean, cfg.json_path == "-");
    if (!(cfg.load || cfg.run_phase() || cfg.check_all || cfg.reset)) return 0;
  }

  Versions versions;
  std::string error;
  if (!versions.open(cfg.keys, cfg.seed, cfg.distinct, cfg.state_path, &error)) {
    std::fprintf(stderr, "tmc_loadgen: %s\n", error.c_str());
    return 2;
  }
  std::vector<Phase> phases;
  if (cfg.load) phases.push_back(Phase::kLoad);
  if (cfg.run_phase()) phases.push_back(Phase::kRun);
  if (cfg.check_all) phases.push_back(Phase::kCheck);
  if (cfg.reset) phases.push_back(Phase::kReset);

  std::vector<PhaseResult> results;
  bool connect_failed = false;
  for (Phase p : phases) {
    PhaseResult r;
    const bool ok = run_phase(cfg, gen, versions, p, &r, &error);
    results.push_back(std::move(r));
    if (!cfg.quiet || !ok) print_human(cfg, results.back());
    if (!ok) {
      std::fprintf(stderr, "tmc_loadgen: %s phase failed: %s\n", phase_name(p), error.c_str());
      connect_failed = error.find("cannot connect") != std::string::npos;
      break;
    }
  }
  uint64_t mismatches = 0;
  for (const auto& r : results) mismatches += r.stats.mismatches;
  if (!cfg.json_path.empty()) {
    FILE* f = cfg.json_path == "-" ? stdout : std::fopen(cfg.json_path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "tmc_loadgen: cannot write --json %s: %s\n", cfg.json_path.c_str(), std::strerror(errno));
      return 2;
    }
    write_json(cfg, results, error, f);
    if (f != stdout) std::fclose(f);
  }
  if (mismatches) std::fprintf(stderr, "tmc_loadgen: %llu values read back differ from what was written\n",
                               static_cast<unsigned long long>(mismatches));
  if (connect_failed) return 3;
  return error.empty() && mismatches == 0 ? 0 : 1;
}
