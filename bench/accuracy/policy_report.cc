// The report of one `bench_hotset --dist zipf` run: a Markdown table for people
// (print_policy_table) or one JSON object (print_policy_json, read by
// scripts/policy_report.py). Both show the same numbers.
#include <cmath>

#include "heap.h"
#include "json_out.h"
#include "policy_results.h"
#include "report_common.h"

namespace acc {
namespace {

double mib(double bytes) { return bytes / 1048576.0; }
const char* met(bool ok) { return ok ? "met" : "NOT met"; }

template <typename F>
double mean_of(const PolicyResults& r, F f) {
  if (r.n_samples == 0) return NAN;
  double sum = 0;
  for (size_t i = 0; i < r.n_samples; ++i) sum += f(r.samples[i]);
  return sum / static_cast<double>(r.n_samples);
}

double band_lo(int b) { return b == 0 ? 0 : kBandEdges[b - 1]; }

// CPU per event in microseconds (a fault cycle's two halves: fault thread per fault, reclaimer
// per eviction); NAN when there was none.
double per_event_us(uint64_t cpu_ns, uint64_t events) {
  return events != 0 ? static_cast<double>(cpu_ns) * 1e-3 / static_cast<double>(events) : NAN;
}

}  // namespace

const char* budget_key(Budget b) {
  switch (b) {
    case Budget::kMeanResident: return "resident";
    case Budget::kTraceResident: return "resident_trace";
    case Budget::kTarget: return "target";
  }
  return "?";
}

const char* budget_name(Budget b) {
  switch (b) {
    case Budget::kMeanResident: return "(a) libtmc's mean resident pages";
    case Budget::kTraceResident: return "(a') libtmc's resident pages census by census";
    case Budget::kTarget: return "(b) the target's budget";
  }
  return "?";
}

double PolicyResults::faults_per_access() const {
  return accesses() ? static_cast<double>(delta("faults")) / static_cast<double>(accesses()) : NAN;
}

double PolicyResults::lru_misses_per_access(int i) const {
  return accesses() ? static_cast<double>(lru[i].misses) / static_cast<double>(accesses()) : NAN;
}

double PolicyResults::ratio(int i) const {
  const double l = lru_misses_per_access(i);
  return l > 0 ? faults_per_access() / l : INFINITY;
}

double PolicyResults::mean_resident() const { return mean_of(*this, [](const WindowSample& w) { return static_cast<double>(w.resident); }); }
double PolicyResults::mean_rss() const { return mean_of(*this, [](const WindowSample& w) { return static_cast<double>(w.rss_bytes); }); }
double PolicyResults::mean_pool() const { return mean_of(*this, [](const WindowSample& w) { return static_cast<double>(w.pool_bytes); }); }

double PolicyResults::pool_per_page() const {
  double pool = 0, pages_in = 0;
  for (size_t i = 0; i < n_samples; ++i) {
    pool += static_cast<double>(samples[i].pool_bytes);
    pages_in += static_cast<double>(samples[i].compressed_pages);
  }
  return pages_in > 0 ? pool / pages_in : NAN;
}

double PolicyResults::fixed_overhead() const {
  return mean_of(*this, [](const WindowSample& w) {
    return static_cast<double>(w.rss_bytes) - static_cast<double>(w.resident * kPage) - static_cast<double>(w.pool_bytes);
  });
}

double PolicyResults::all_compressed_bytes() const {
  return fixed_overhead() + static_cast<double>(pages) * pool_per_page();
}

size_t PolicyResults::target_budget() const {
  const double c = pool_per_page();
  if (!std::isfinite(c) || c >= static_cast<double>(kPage)) return 0;
  // Each page kept resident instead of compressed costs 4096 - c more bytes.
  const double r = (static_cast<double>(target_bytes) - all_compressed_bytes()) / (static_cast<double>(kPage) - c);
  if (!(r > 0)) return 0;
  return r >= static_cast<double>(pages) ? pages : static_cast<size_t>(r);
}

void print_policy_table(const PolicyResults& r, FILE* f) {
  const Options& o = r.opt;
  const int sims = r.n_lru;
  const double w = r.window_s;
  fprintf(f, "## Setup\n\n");
  fprintf(f, "- data: %.0f MiB malloc'd in %llu KiB chunks, %zu pages; plain RSS after the fill %.1f MiB\n", mib(static_cast<double>(o.size_bytes)),
          static_cast<unsigned long long>(o.chunk_bytes >> 10), r.pages, mib(static_cast<double>(r.plain_rss)));
  fprintf(f, "- accesses: Zipf(%g) over every page, ranks scattered by a permutation of seed %llu, one thread, %.4g%% write\n", o.zipf_s,
          static_cast<unsigned long long>(o.seed), o.write_percent);
  if (r.target_bytes != 0)
    fprintf(f, "- TMC_TARGET %.1f MiB (%s) set after the fill\n", mib(static_cast<double>(r.target_bytes)),
            o.target_percent > 0 ? "a share of the plain RSS" : "as given");
  else
    fprintf(f, "- no TMC_TARGET\n");
  fprintf(f, "- warm-up %.0f s (%s), window %.1f s, a pagemap census every %.3g s\n", r.warmup_s,
          r.settled ? "RSS and faults per access flat" : "NOT flat by --warmup-max", w, o.sample_s);
  print_tmc_env(f);

  fprintf(f, "\n## Faults per access against LRU on the same sequence\n\n| | libtmc |");
  for (int i = 0; i < sims; ++i) fprintf(f, " LRU, %s (%zu pages) |", budget_name(r.lru[i].kind), r.lru[i].budget);
  fprintf(f, "\n| --- | ---: |");
  for (int i = 0; i < sims; ++i) fputs(" ---: |", f);
  fprintf(f, "\n| faults (misses) per access | %.5f |", r.faults_per_access());
  for (int i = 0; i < sims; ++i) fprintf(f, " %.5f |", r.lru_misses_per_access(i));
  fprintf(f, "\n| libtmc over LRU (goal <= %.1f) | |", kGoalLruRatio);
  for (int i = 0; i < sims; ++i) fprintf(f, " %.3f (%s) |", r.ratio(i), met(r.ratio(i) <= kGoalLruRatio));
  fprintf(f, "\n\n");

  fprintf(f, "## Window\n\n| | |\n| --- | ---: |\n");
  fprintf(f, "| accesses | %llu (%.3g/s) |\n", static_cast<unsigned long long>(r.accesses()), static_cast<double>(r.accesses()) / w);
  fprintf(f, "| faults / refaults | %llu / %llu (%.0f/s) |\n", static_cast<unsigned long long>(r.delta("faults")),
          static_cast<unsigned long long>(r.delta("refaults")), static_cast<double>(r.delta("faults")) / w);
  fprintf(f, "| refault distance p50 at the end (ms) | %llu |\n", static_cast<unsigned long long>(r.s1.get_or_zero("refault_distance_p50_ms")));
  fprintf(f, "| evictions per second | %.0f |\n", static_cast<double>(r.delta("evictions")) / w);
  fprintf(f, "| held faults, time held per second of window | %llu, %.3f s |\n", static_cast<unsigned long long>(r.delta("held_faults")),
          static_cast<double>(r.delta("hold_ns")) * 1e-9 / w);
  double lo = INFINITY, hi = 0, rss_hi = 0;
  for (size_t i = 0; i < r.n_samples; ++i) {
    lo = std::fmin(lo, static_cast<double>(r.samples[i].resident));
    hi = std::fmax(hi, static_cast<double>(r.samples[i].resident));
    rss_hi = std::fmax(rss_hi, static_cast<double>(r.samples[i].rss_bytes));
  }
  fprintf(f, "| heap pages resident, mean (min-max) | %.0f (%.0f-%.0f) |\n", r.mean_resident(), lo, hi);
  fprintf(f, "| RSS mean / max (MiB) | %.1f / %.1f |\n", mib(r.mean_rss()), mib(rss_hi));
  fprintf(f, "| pool mean (MiB), per compressed page (bytes) | %.1f, %.0f |\n", mib(r.mean_pool()), r.pool_per_page());
  fprintf(f, "| fixed overhead: RSS - resident heap pages - pool (MiB) | %.1f |\n", mib(r.fixed_overhead()));
  fprintf(f, "| RSS with every heap page compressed (MiB) | %.1f |\n", mib(r.all_compressed_bytes()));
  fprintf(f, "| libtmc background CPU (cores) | %.3f |\n", static_cast<double>(r.delta("cpu_ns_background")) * 1e-9 / w);
  fprintf(f, "| fault thread CPU per fault, reclaimer CPU per eviction (us) | %.1f, %.1f |\n",
          per_event_us(r.delta("cpu_ns_fault"), r.delta("faults")), per_event_us(r.delta("cpu_ns_reclaim"), r.delta("evictions")));
  fprintf(f, "| accessor thread CPU (cores) | %.3f |\n\n", static_cast<double>(r.accessor_cpu_ns) * 1e-9 / w);

  fprintf(f, "## Resident pages by popularity rank\n\n| ranks | pages | share of accesses | libtmc (window mean) |");
  for (int i = 0; i < sims; ++i) fprintf(f, " LRU %s (end) |", budget_name(r.lru[i].kind));
  fprintf(f, "\n| --- | ---: | ---: | ---: |");
  for (int i = 0; i < sims; ++i) fputs(" ---: |", f);
  fputc('\n', f);
  for (int b = 0; b < kBands; ++b) {
    const double pages = static_cast<double>(r.band_pages[b]);
    const double mean = mean_of(r, [b](const WindowSample& s) { return static_cast<double>(s.band_resident[b]); });
    fprintf(f, "| %.4g-%.4g%% | %zu | %.2f%% | %.1f%% |", band_lo(b) * 100, kBandEdges[b] * 100, r.band_pages[b],
            r.band_access_share[b] * 100, pages ? mean / pages * 100 : 0);
    for (int i = 0; i < sims; ++i) fprintf(f, " %.1f%% |", pages ? static_cast<double>(r.lru[i].band_resident[b]) / pages * 100 : 0);
    fputc('\n', f);
  }
  fprintf(f, "\nReplay: %llu accesses in %.1f s, the accessor's sequence: %s; %zu distinct pages touched before the window.\n\n",
          static_cast<unsigned long long>(r.a1), r.replay_s, r.replay_matches ? "yes" : "NO", r.touched_before_window);
  print_stats_change(f, r.s0, r.s1);
  fprintf(f, "\n## Data check\n\n%zu pages compared with their original contents in %.1f s (%llu faults): %zu differ: %s\n", r.checked,
          r.check_s, static_cast<unsigned long long>(r.check_faults), r.bad, r.bad == 0 ? "PASS" : "FAIL");
}

void print_policy_json(const PolicyResults& r, FILE* f) {
  const Options& o = r.opt;
  JsonOut j(f);
  j.begin_object();
  j.begin_object("setup");
  json_run_options(j, o);
  j.num("pages", static_cast<uint64_t>(r.pages));
  j.num("zipf_s", o.zipf_s);
  j.num("target_percent", o.target_percent);
  j.num("target_bytes", r.target_bytes);
  j.num("plain_rss_bytes", r.plain_rss);
  j.num("evictions_at_fill", r.evictions_at_fill);
  j.num("sample_s", o.sample_s);
  j.end_object();

  j.begin_object("warmup");
  j.num("seconds", r.warmup_s);
  j.boolean("settled", r.settled);
  j.num("fill_s", r.fill_s);
  j.begin_array("samples");  // one a second: t, RSS, libtmc's faults, accesses
  for (size_t i = 0; i < r.warmup_samples; ++i) {
    const WarmupSample& s = r.warmup[i];
    j.begin_array();
    j.num(nullptr, s.t_s);
    j.num(nullptr, s.rss_bytes);
    j.num(nullptr, s.faults);
    j.num(nullptr, s.accesses);
    j.end_array();
  }
  j.end_array();
  j.end_object();

  j.begin_object("window");
  j.num("seconds", r.window_s);
  j.num("accesses", r.accesses());
  j.num("first_access", r.a0);
  j.num("writes", r.writes);
  j.num("faults", r.delta("faults"));
  j.num("refaults", r.delta("refaults"));
  j.num("faults_per_access", r.faults_per_access());
  j.num("evictions", r.delta("evictions"));
  j.num("held_faults", r.delta("held_faults"));
  j.num("hold_ns", r.delta("hold_ns"));
  j.num("background_cpu_ns", r.delta("cpu_ns_background"));
  j.num("fault_cpu_ns", r.delta("cpu_ns_fault"));
  j.num("reclaim_cpu_ns", r.delta("cpu_ns_reclaim"));
  j.num("process_cpu_ns", r.process_cpu_ns);
  j.num("accessor_cpu_ns", r.accessor_cpu_ns);
  j.num("target_stat_bytes", r.target_stat);
  j.num("mean_resident_pages", r.mean_resident());
  j.num("mean_rss_bytes", r.mean_rss());
  j.num("mean_pool_bytes", r.mean_pool());
  j.num("pool_per_page", r.pool_per_page());
  j.num("fixed_overhead_bytes", r.fixed_overhead());
  j.num("all_compressed_bytes", r.all_compressed_bytes());
  // t, heap pages resident, RSS, pool, compressed pages, resident per band, accesses made
  j.begin_array("samples");
  for (size_t i = 0; i < r.n_samples; ++i) {
    const WindowSample& s = r.samples[i];
    j.begin_array();
    j.num(nullptr, s.t_s);
    j.num(nullptr, static_cast<uint64_t>(s.resident));
    j.num(nullptr, s.rss_bytes);
    j.num(nullptr, s.pool_bytes);
    j.num(nullptr, s.compressed_pages);
    j.begin_array();
    for (int b = 0; b < kBands; ++b) j.num(nullptr, static_cast<uint64_t>(s.band_resident[b]));
    j.end_array();
    j.num(nullptr, s.accesses);
    j.end_array();
  }
  j.end_array();
  json_stats(j, "stats_start", r.s0);
  json_stats(j, "stats_end", r.s1);
  j.end_object();

  j.begin_array("bands");
  for (int b = 0; b < kBands; ++b) {
    j.begin_object();
    j.num("rank_lo", band_lo(b));
    j.num("rank_hi", kBandEdges[b]);
    j.num("pages", static_cast<uint64_t>(r.band_pages[b]));
    j.num("access_share", r.band_access_share[b]);
    j.num("libtmc_resident", mean_of(r, [b](const WindowSample& s) { return static_cast<double>(s.band_resident[b]); }));
    j.end_object();
  }
  j.end_array();

  j.begin_array("lru");
  for (int i = 0; i < r.n_lru; ++i) {
    const LruRun& l = r.lru[i];
    j.begin_object();
    j.str("budget_kind", budget_key(l.kind));
    j.str("name", budget_name(l.kind));
    j.num("budget_pages", static_cast<uint64_t>(l.budget));
    j.num("misses", l.misses);
    j.num("misses_per_access", r.lru_misses_per_access(i));
    j.num("ratio", r.ratio(i));
    j.boolean("goal_met", r.ratio(i) <= kGoalLruRatio);
    j.begin_array("band_resident");
    for (int b = 0; b < kBands; ++b) j.num(nullptr, static_cast<uint64_t>(l.band_resident[b]));
    j.end_array();
    j.end_object();
  }
  j.end_array();

  j.begin_object("replay");
  j.num("accesses", r.a1);
  j.num("seconds", r.replay_s);
  j.boolean("matches", r.replay_matches);
  j.num("touched_before_window", static_cast<uint64_t>(r.touched_before_window));
  j.end_object();

  j.begin_object("check");
  j.num("pages", static_cast<uint64_t>(r.checked));
  j.num("bad", static_cast<uint64_t>(r.bad));
  j.num("seconds", r.check_s);
  j.num("faults", r.check_faults);
  j.boolean("pass", r.bad == 0);
  j.end_object();
  json_stats(j, "final_stats", r.final_stats);
  j.end_object();
  fputc('\n', f);
}

}  // namespace acc
