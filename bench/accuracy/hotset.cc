// bench_hotset: how well libtmc tells hot pages from cold ones. A heap of --size bytes of
// realistic records, malloc'd in --chunk objects; --hot-percent of its pages are touched
// continuously by --threads accessors, the rest are written once and left. After --warmup it
// measures, over --measure:
//   1. the share of cold pages compressed: cold pages not present in /proc/self/pagemap
//      (libtmc moves an evicted page out of the page tables) / all cold pages;
//   2. the share of hot accesses that faulted: libtmc's `faults` change / accesses made. The
//      cold pages are not touched in the window and the benchmark's own bookkeeping lives
//      outside the managed heap, so every fault in the window is a hot-set fault;
//   3. libtmc's background CPU: `cpu_ns_background` change / wall time, in cores.
// With --shift it then moves the hot set to a disjoint window and reports every second how
// much of the new set is resident and how much of the old one evicted. Finally it compares
// every page with its original contents (a function of the seed): a mismatch exits 1.
//
//   TMC_COLD_AGE=30s LD_PRELOAD=build/libtmc.so build/bench/bench_hotset --warmup 120s
//
// bench/run_accuracy.sh runs it at the documented settings and writes
// bench/results/accuracy.md. With --dist zipf the same heap is accessed with Zipf
// popularity under an RSS target instead, against an LRU simulation (policy_run.h,
// bench/run_policy.sh). Exit: 0 data intact, 1 a page differs, 2 cannot measure.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "accessors.h"
#include "clock.h"
#include "heap.h"
#include "hot_window.h"
#include "options.h"
#include "outside_heap.h"
#include "pagemap.h"
#include "policy_run.h"
#include "results.h"
#include "tmc_view.h"

namespace acc {
namespace {

// TMC_COLD_AGE in seconds as libtmc reads it (500ms, 30s, 2m, 1h, bare = s); -1 if unset or
// not understood (libtmc then says so itself and uses its default).
double env_cold_age_s() {
  const char* v = getenv("TMC_COLD_AGE");
  if (v == nullptr) return -1;
  char* end = nullptr;
  double x = strtod(v, &end);
  if (end == v) return -1;
  std::string unit(end);
  if (unit == "ms") return x / 1000;
  if (unit == "" || unit == "s") return x;
  if (unit == "m") return x * 60;
  if (unit == "h") return x * 3600;
  return -1;
}

double cold_absent_share(const PageCensus& c) {
  size_t pages = c.in_b.pages + c.rest.pages;
  return pages ? static_cast<double>(c.in_b.absent() + c.rest.absent()) / static_cast<double>(pages) : 0;
}

// Warm-up: one pagemap census a second, to see when the cold pages went; a line every 10 s.
// It lasts --warmup at least, then on until the share of cold pages evicted grew by less
// than kSettled over the last kShortFlat seconds, having reached the goal or having stayed
// flat for kLongFlat seconds (or --warmup-max): the window must see libtmc at steady state,
// not still working through the initial eviction, which under a CPU budget can take longer
// than any fixed warm-up. A short flat stretch alone is not enough: the reclaimer may be
// busy with other pages (the hot set, evicted and faulted back) while the cold share waits.
constexpr int kShortFlat = 10;
constexpr int kLongFlat = 60;
constexpr double kSettled = 0.001;

void warm_up(const Options& o, const Heap& heap, const HotWindow& hot, const HotWindow& other, Pagemap& pm,
             const TmcView& tmc, Results* r) {
  const double t0 = now_s();
  const int max_s = static_cast<int>(o.warmup_max_s);
  double history[kLongFlat + 1] = {};  // cold share of the last seconds, a ring
  auto ago = [&history](int now, int seconds) { return history[(now - seconds) % (kLongFlat + 1)]; };
  int s = 1;
  for (; s <= max_s; ++s) {
    sleep_until(t0 + s);
    PageCensus c = pm.census(heap, hot, other);
    double cold = cold_absent_share(c);
    history[s % (kLongFlat + 1)] = cold;
    if (r->cold95_after_s < 0 && cold >= kGoalColdCompressed) r->cold95_after_s = s;
    const bool settled = s >= o.warmup_s && s > kShortFlat && cold - ago(s, kShortFlat) < kSettled &&
                         (cold >= kGoalColdCompressed || (s > kLongFlat && cold - ago(s, kLongFlat) < kSettled));
    if (s % 10 == 0 || settled || s == max_s) {
      StatsSnapshot st = tmc.snapshot();
      fprintf(stderr, "bench_hotset: warm-up %4d s: cold evicted %5.1f%%, hot present %5.1f%%, evictions %llu, faults %llu, RSS %.0f MiB\n",
              s, cold * 100, c.in_a.present_share() * 100, static_cast<unsigned long long>(st.get_or_zero("evictions")),
              static_cast<unsigned long long>(st.get_or_zero("faults")), static_cast<double>(st.get_or_zero("rss_bytes")) / 1048576);
    }
    if (settled) {
      r->settled = true;
      break;
    }
  }
  if (!r->settled)
    fprintf(stderr, "bench_hotset: warning: cold pages were still being evicted after --warmup-max %.0f s; the window is not at steady state\n",
            o.warmup_max_s);
  r->warmup_s = now_s() - t0;
}

void measure(const Options& o, const Heap& heap, const HotWindow& hot, const HotWindow& other, Pagemap& pm,
             const TmcView& tmc, Accessors& acc, Results* r) {
  r->start = pm.census(heap, hot, other);
  // Everything the window is judged by is read together at its two ends; the pagemap census
  // is taken outside, so its own CPU is not part of the window's.
  r->s0 = tmc.snapshot();
  const uint64_t a0 = acc.accesses(), w0 = acc.writes(), cpu0 = process_cpu_ns(), acpu0 = acc.cpu_ns();
  const double t0 = now_s();
  sleep_until(t0 + o.measure_s);
  const double t1 = now_s();
  r->s1 = tmc.snapshot();
  r->accesses = acc.accesses() - a0;
  r->writes = acc.writes() - w0;
  r->process_cpu_ns = process_cpu_ns() - cpu0;
  r->accessor_cpu_ns = acc.cpu_ns() - acpu0;
  r->window_s = t1 - t0;
  r->end = pm.census(heap, hot, other);
}

void follow_shift(const Options& o, const Heap& heap, const HotWindow& old_w, const HotWindow& new_w, Pagemap& pm,
                  const TmcView& tmc, Accessors& acc, Results* r) {
  const size_t n = static_cast<size_t>(o.shift_s);
  r->shift.allocate(n);
  StatsSnapshot prev = tmc.snapshot();
  uint64_t prev_acc = acc.accesses();
  const double t0 = now_s();
  double prev_t = t0;
  acc.shift();
  for (size_t i = 0; i < n; ++i) {
    sleep_until(t0 + static_cast<double>(i + 1));
    StatsSnapshot st = tmc.snapshot();
    const uint64_t a = acc.accesses();
    const double t = now_s();
    PageCensus c = pm.census(heap, new_w, old_w);
    ShiftSample& s = r->shift[i];
    s.t_s = static_cast<double>(i + 1);
    s.new_present = c.in_a.present_share();
    s.old_absent = c.in_b.absent_share();
    s.faults_per_s = static_cast<double>(st.get_or_zero("faults") - prev.get_or_zero("faults")) / (t - prev_t);
    s.accesses_per_s = static_cast<double>(a - prev_acc) / (t - prev_t);
    s.rss_bytes = st.get_or_zero("rss_bytes");
    r->shift_samples = i + 1;
    if (r->new99_after_s < 0 && s.new_present >= 0.99) r->new99_after_s = s.t_s;
    if (r->old95_after_s < 0 && s.old_absent >= kGoalColdCompressed) r->old95_after_s = s.t_s;
    fprintf(stderr, "bench_hotset: shift %3.0f s: new hot set present %5.1f%%, old evicted %5.1f%%, %.0f faults/s, RSS %.0f MiB\n",
            s.t_s, s.new_present * 100, s.old_absent * 100, s.faults_per_s, static_cast<double>(s.rss_bytes) / 1048576);
    prev = st;
    prev_acc = a;
    prev_t = t;
  }
}

// Every page against its original contents; the hot pages of either window count as hot.
void check(const Options& o, const Heap& heap, const HotWindow& a, const HotWindow& b, const TmcView& tmc, Results* r) {
  const uint64_t f0 = tmc.snapshot().get_or_zero("faults");
  const double t0 = now_s();
  heap.check_all(o.seed, [&](size_t i, unsigned char* scratch) {
    const bool hot = a.contains(i) || (o.shift && b.contains(i));
    size_t& bad = hot ? r->bad_hot : r->bad_cold;
    if (++bad <= 5) heap.report_mismatch(o.seed, i, scratch, hot ? "hot" : "cold");
  });
  r->checked = heap.pages();
  r->check_s = now_s() - t0;
  r->final_stats = tmc.snapshot();
  r->check_faults = r->final_stats.get_or_zero("faults") - f0;
}

// The hot-set run on a filled heap: warm-up, window, the moved hot set, the check.
int run_hotset(Results& r, const Heap& heap, Pagemap& pm, const TmcView& tmc) {
  const Options& o = r.opt;
  const HotWindow hot = HotWindow::first(o.layout, heap.pages(), o.hot_percent);
  const HotWindow moved = hot.shifted();
  r.pages = heap.pages();
  r.hot_pages = hot.hot_pages;
  r.cold_pages = r.pages - r.hot_pages;

  Accessors acc;
  acc.start(&heap, hot, moved, o.threads, o.write_percent, o.seed);
  warm_up(o, heap, hot, moved, pm, tmc, &r);
  fprintf(stderr, "bench_hotset: measuring for %.0f s\n", o.measure_s);
  measure(o, heap, hot, moved, pm, tmc, acc, &r);
  if (o.shift) follow_shift(o, heap, hot, moved, pm, tmc, acc, &r);
  acc.stop();

  fprintf(stderr, "bench_hotset: checking every page\n");
  check(o, heap, hot, moved, tmc, &r);
  if (o.json) print_json(r, stdout);
  else print_table(r, stdout);
  fflush(stdout);
  if (r.bad_cold + r.bad_hot > 0) {
    fprintf(stderr, "bench_hotset: FAIL: %zu cold and %zu hot pages differ from their original contents\n", r.bad_cold, r.bad_hot);
    return 1;
  }
  return 0;
}

int run(int argc, char** argv) {
  Options o;
  std::string err;
  if (!parse_options(argc, argv, &o, &err)) {
    if (err.empty()) return 0;  // --help
    fprintf(stderr, "bench_hotset: %s\n", err.c_str());
    return 2;
  }
  TmcView tmc;
  if (!tmc.load()) {
    fprintf(stderr, "bench_hotset: tmc_stats_get not found: run under the preload, LD_PRELOAD=build/libtmc.so\n");
    return 2;
  }
  if (!tmc.active()) {
    fprintf(stderr, "bench_hotset: libtmc is preloaded but not managing the heap (TMC_ENABLE=0 or start-up failed)\n");
    return 2;
  }
  const double cold_age_s = env_cold_age_s();
  // Under --dist zipf the RSS target, not the cold age, decides what goes.
  if (o.dist == Dist::kHotSet) {
    if (cold_age_s < 0)
      fprintf(stderr, "bench_hotset: TMC_COLD_AGE is not set: libtmc's default applies (2m unless it changed); set it for a defined run\n");
    else if (o.warmup_s < 2 * cold_age_s)
      fprintf(stderr, "bench_hotset: warning: --warmup %.0f s is less than twice TMC_COLD_AGE (%.0f s): cold pages may not all be compressed yet\n",
              o.warmup_s, cold_age_s);
  }

  // The report is written at the end, into a stdio buffer outside the managed heap (glibc
  // would malloc one): it is never evicted, so writing it faults nothing.
  static OutsideArray<char> out_buf;
  out_buf.allocate(size_t{4} << 20);
  setvbuf(stdout, out_buf.data(), _IOFBF, out_buf.size());

  Heap heap;
  if (!heap.allocate(o.size_bytes, o.chunk_bytes)) return 2;
  Pagemap pm;
  pm.open_self(heap.pages_per_chunk() > 8192 ? heap.pages_per_chunk() : 8192);

  fprintf(stderr, "bench_hotset: filling %zu pages (%.0f MiB in %zu chunks)\n", heap.pages(),
          static_cast<double>(o.size_bytes) / 1048576, heap.chunks());
  const double t = now_s();
  heap.fill(o.seed);
  const double fill_s = now_s() - t;

  if (o.dist == Dist::kZipf) return run_policy(o, heap, pm, tmc, fill_s);
  Results r;
  r.opt = o;
  r.cold_age_s = cold_age_s;
  r.fill_s = fill_s;
  return run_hotset(r, heap, pm, tmc);
}

}  // namespace
}  // namespace acc

int main(int argc, char** argv) { return acc::run(argc, argv); }
