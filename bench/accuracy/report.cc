// The report of one run: a Markdown table for people (print_table) or one JSON object for
// scripts (print_json, read by scripts/accuracy_report.py). Both show the same numbers.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "json_out.h"
#include "report_common.h"
#include "results.h"

extern char** environ;

namespace acc {
namespace {

double share(size_t part, size_t whole) { return whole ? static_cast<double>(part) / static_cast<double>(whole) : NAN; }
double mib(uint64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

size_t cold_absent(const PageCensus& c) { return c.in_b.absent() + c.rest.absent(); }
size_t cold_total(const PageCensus& c) { return c.in_b.pages + c.rest.pages; }

const char* met(bool ok) { return ok ? "met" : "NOT met"; }

}  // namespace

double Results::cold_compressed() const { return share(cold_absent(end), cold_total(end)); }

double Results::hot_fault_share() const {
  return accesses ? static_cast<double>(delta("faults")) / static_cast<double>(accesses) : NAN;
}

double Results::background_cpu() const {
  return window_s > 0 ? static_cast<double>(delta("cpu_ns_background")) * 1e-9 / window_s : NAN;
}

void print_table(const Results& r, FILE* f) {
  const Options& o = r.opt;
  fprintf(f, "## Setup\n\n");
  fprintf(f, "- data: %.0f MiB malloc'd in %llu KiB chunks, %zu pages of JSON-like records, text and Redis-like heap slabs\n",
          mib(o.size_bytes), static_cast<unsigned long long>(o.chunk_bytes >> 10), r.pages);
  fprintf(f, "- hot set: %zu pages (%.4g%%, %s), %d accessor thread(s), %.4g%% of accesses write; %zu cold pages, never touched after the fill\n",
          r.hot_pages, o.hot_percent, layout_name(o.layout), o.threads, o.write_percent, r.cold_pages);
  fprintf(f, "- warm-up %.0f s (at least %.0f s, then until cold pages stopped going: %s), measured window %.1f s%s\n",
          r.warmup_s, o.warmup_s, r.settled ? "settled" : "NOT settled by --warmup-max", r.window_s,
          o.shift ? ", then the hot set moved" : "");
  print_tmc_env(f);
  fputs("\n", f);

  const double cold = r.cold_compressed(), hot = r.hot_fault_share(), cpu = r.background_cpu();
  fprintf(f, "## Goals (measured window)\n\n");
  fprintf(f, "| measure | value | how | goal | |\n| --- | ---: | --- | --- | --- |\n");
  fprintf(f, "| cold pages compressed | %.2f%% | %zu of %zu cold pages not present in /proc/self/pagemap at the end | >= %.0f%% | %s |\n",
          cold * 100, cold_absent(r.end), cold_total(r.end), kGoalColdCompressed * 100, met(cold >= kGoalColdCompressed));
  fprintf(f, "| hot accesses that faulted | %.4f%% | %llu faults / %llu accesses | <= %.1f%% | %s |\n", hot * 100,
          static_cast<unsigned long long>(r.delta("faults")), static_cast<unsigned long long>(r.accesses),
          kGoalHotFaultShare * 100, met(hot <= kGoalHotFaultShare));
  fprintf(f, "| libtmc background CPU | %.2f%% of a core | cpu_ns_background change / wall time | <= %.0f%% | %s |\n\n",
          cpu * 100, kGoalBackgroundCpu * 100, met(cpu <= kGoalBackgroundCpu));

  const double w = r.window_s;
  fprintf(f, "## Details\n\n| | |\n| --- | ---: |\n");
  fprintf(f, "| fill (s) | %.1f |\n", r.fill_s);
  if (r.cold95_after_s >= 0) fprintf(f, "| 95%% of cold pages evicted after (s of warm-up) | %.0f |\n", r.cold95_after_s);
  else fprintf(f, "| 95%% of cold pages evicted after (s of warm-up) | never |\n");
  fprintf(f, "| cold pages not present at the window's start | %.2f%% |\n", share(cold_absent(r.start), cold_total(r.start)) * 100);
  fprintf(f, "| hot accesses per second | %.3g |\n", static_cast<double>(r.accesses) / w);
  fprintf(f, "| faults per second (all on the hot set: nothing else managed is touched) | %.1f |\n",
          static_cast<double>(r.delta("faults")) / w);
  fprintf(f, "| refaults per second | %.1f |\n", static_cast<double>(r.delta("refaults")) / w);
  fprintf(f, "| evictions per second | %.1f |\n", static_cast<double>(r.delta("evictions")) / w);
  fprintf(f, "| hot pages not present at the window's end | %zu of %zu |\n", r.end.in_a.absent(), r.end.in_a.pages);
  // Not expected (no swap device is needed), but a swapped page is not present either and
  // must not be taken for one libtmc compressed: PageCounts::absent() leaves them out.
  if (size_t swapped = r.end.in_a.swapped + r.end.in_b.swapped + r.end.rest.swapped; swapped > 0)
    fprintf(f, "| pages swapped out by the kernel (not libtmc) | %zu |\n", swapped);
  fprintf(f, "| compressed_pages (all managed pages) | %llu |\n",
          static_cast<unsigned long long>(r.s1.get_or_zero("compressed_pages")));
  fprintf(f, "| RSS at the window's end (MiB) | %.1f |\n", mib(r.s1.get_or_zero("rss_bytes")));
  fprintf(f, "| pool (MiB) | %.1f |\n", mib(r.s1.get_or_zero("pool_bytes")));
  fprintf(f, "| process CPU (cores: accessors, libtmc, the rest) | %.3f |\n", static_cast<double>(r.process_cpu_ns) * 1e-9 / w);
  fprintf(f, "| accessor threads' CPU (cores) | %.3f |\n\n", static_cast<double>(r.accessor_cpu_ns) * 1e-9 / w);

  if (o.shift) {
    fprintf(f, "## Moved hot set\n\nThe accessors moved to a disjoint %zu pages (cold and compressed until then); one row a second.\n\n",
            r.hot_pages);
    fprintf(f, "| s | new hot set present | old hot set evicted | faults/s | accesses/s | RSS MiB |\n");
    fprintf(f, "| ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < r.shift_samples; ++i) {
      const ShiftSample& s = r.shift[i];
      fprintf(f, "| %.0f | %.1f%% | %.1f%% | %.0f | %.3g | %.1f |\n", s.t_s, s.new_present * 100, s.old_absent * 100,
              s.faults_per_s, s.accesses_per_s, mib(s.rss_bytes));
    }
    auto when = [](double t) { return t >= 0 ? t : NAN; };
    fprintf(f, "\n99%% of the new hot set present after %.0f s; 95%% of the old one evicted after %.0f s (nan: not within %.0f s).\n\n",
            when(r.new99_after_s), when(r.old95_after_s), o.shift_s);
  }

  print_stats_change(f, r.s0, r.s1);
  fprintf(f, "\n## Data check\n\n%zu pages compared with their original contents in %.1f s (%llu faults): %zu cold and %zu hot pages differ: %s\n",
          r.checked, r.check_s, static_cast<unsigned long long>(r.check_faults), r.bad_cold, r.bad_hot,
          r.bad_cold + r.bad_hot == 0 ? "PASS" : "FAIL");
}

namespace {

void json_counts(JsonOut& j, const char* key, const PageCounts& c) {
  j.begin_object(key);
  j.num("pages", static_cast<uint64_t>(c.pages));
  j.num("present", static_cast<uint64_t>(c.present));
  j.num("swapped", static_cast<uint64_t>(c.swapped));
  j.num("absent", static_cast<uint64_t>(c.absent()));
  j.end_object();
}

void json_census(JsonOut& j, const char* key, const PageCensus& c) {
  j.begin_object(key);
  json_counts(j, "hot", c.in_a);
  PageCounts cold;
  cold.pages = c.in_b.pages + c.rest.pages;
  cold.present = c.in_b.present + c.rest.present;
  cold.swapped = c.in_b.swapped + c.rest.swapped;
  json_counts(j, "cold", cold);
  j.end_object();
}

}  // namespace

void print_tmc_env(FILE* f) {
  fprintf(f, "- libtmc settings:");
  bool any = false;
  for (char** e = environ; *e != nullptr; ++e) {
    if (strncmp(*e, "TMC_", 4) == 0) {
      fprintf(f, " `%s`", *e);
      any = true;
    }
  }
  fprintf(f, "%s\n", any ? "" : " none (libtmc's defaults)");
}

void print_stats_change(FILE* f, const StatsSnapshot& s0, const StatsSnapshot& s1) {
  fprintf(f, "## libtmc statistics (end of the window, change during it)\n\n| field | value | change |\n| --- | ---: | ---: |\n");
  for (size_t i = 0; i < stat_field_count(); ++i) {
    const uint64_t a = s0.values[i], b = s1.values[i];
    fprintf(f, "| %s (%s) | %llu | %lld |\n", stat_fields()[i].name, stat_fields()[i].unit,
            static_cast<unsigned long long>(b), static_cast<long long>(b - a));
  }
}

void json_stats(JsonOut& j, const char* key, const StatsSnapshot& s) {
  j.begin_object(key);
  for (size_t i = 0; i < stat_field_count(); ++i) j.num(stat_fields()[i].name, s.values[i]);
  j.end_object();
}

void json_run_options(JsonOut& j, const Options& o) {
  j.str("dist", dist_name(o.dist));
  j.num("size_bytes", o.size_bytes);
  j.num("chunk_bytes", o.chunk_bytes);
  j.num("seed", o.seed);
  j.num("write_percent", o.write_percent);
  j.num("warmup_s", o.warmup_s);
  j.num("warmup_max_s", o.warmup_max_s);
  j.num("measure_s", o.measure_s);
  json_tmc_env(j);
}

void json_tmc_env(JsonOut& j) {
  j.begin_object("env");
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = strchr(*e, '=');
    if (strncmp(*e, "TMC_", 4) != 0 || eq == nullptr) continue;
    char name[128];
    snprintf(name, sizeof(name), "%.*s", static_cast<int>(eq - *e), *e);
    j.str(name, eq + 1);
  }
  j.end_object();
}

void print_json(const Results& r, FILE* f) {
  const Options& o = r.opt;
  JsonOut j(f);
  j.begin_object();
  j.begin_object("setup");
  json_run_options(j, o);
  j.num("pages", static_cast<uint64_t>(r.pages));
  j.num("hot_pages", static_cast<uint64_t>(r.hot_pages));
  j.num("cold_pages", static_cast<uint64_t>(r.cold_pages));
  j.num("hot_percent", o.hot_percent);
  j.str("layout", layout_name(o.layout));
  j.num("threads", static_cast<uint64_t>(o.threads));
  j.num("cold_age_s", r.cold_age_s);
  j.end_object();

  j.begin_object("goals");
  j.num("cold_compressed", r.cold_compressed());
  j.boolean("cold_compressed_met", r.cold_compressed() >= kGoalColdCompressed);
  j.num("hot_fault_share", r.hot_fault_share());
  j.boolean("hot_fault_share_met", r.hot_fault_share() <= kGoalHotFaultShare);
  j.num("background_cpu", r.background_cpu());
  j.boolean("background_cpu_met", r.background_cpu() <= kGoalBackgroundCpu);
  j.end_object();

  j.begin_object("window");
  j.num("fill_s", r.fill_s);
  j.num("warmup_s", r.warmup_s);
  j.boolean("settled", r.settled);
  j.num("cold95_after_s", r.cold95_after_s);
  j.num("seconds", r.window_s);
  j.num("accesses", r.accesses);
  j.num("writes", r.writes);
  j.num("faults", r.delta("faults"));
  j.num("faults_per_s", static_cast<double>(r.delta("faults")) / r.window_s);
  j.num("refaults", r.delta("refaults"));
  j.num("evictions", r.delta("evictions"));
  j.num("background_cpu_ns", r.delta("cpu_ns_background"));
  j.num("process_cpu_ns", r.process_cpu_ns);
  j.num("accessor_cpu_ns", r.accessor_cpu_ns);
  json_census(j, "pagemap_start", r.start);
  json_census(j, "pagemap_end", r.end);
  json_stats(j, "stats_start", r.s0);
  json_stats(j, "stats_end", r.s1);
  j.end_object();

  if (o.shift) {
    j.begin_object("shift");
    j.num("new99_after_s", r.new99_after_s);
    j.num("old95_after_s", r.old95_after_s);
    j.begin_array("samples");
    for (size_t i = 0; i < r.shift_samples; ++i) {
      const ShiftSample& s = r.shift[i];
      j.begin_object();
      j.num("t_s", s.t_s);
      j.num("new_present", s.new_present);
      j.num("old_absent", s.old_absent);
      j.num("faults_per_s", s.faults_per_s);
      j.num("accesses_per_s", s.accesses_per_s);
      j.num("rss_bytes", s.rss_bytes);
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }

  j.begin_object("check");
  j.num("pages", static_cast<uint64_t>(r.checked));
  j.num("bad_cold", static_cast<uint64_t>(r.bad_cold));
  j.num("bad_hot", static_cast<uint64_t>(r.bad_hot));
  j.num("seconds", r.check_s);
  j.num("faults", r.check_faults);
  j.boolean("pass", r.bad_cold + r.bad_hot == 0);
  j.end_object();
  json_stats(j, "final_stats", r.final_stats);
  j.end_object();
  fputc('\n', f);
}

}  // namespace acc
