#include "policy_run.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "accessors.h"
#include "clock.h"
#include "lru_sim.h"
#include "policy_results.h"
#include "zipf_pages.h"

namespace acc {
namespace {

// Warm-up is flat when, comparing the last kFlat seconds with the kFlat before them, mean
// RSS moved by less than kRssFlat of the plain RSS and faults per access by less than
// kFaultsFlat of their value (or kFaultsFloor, near zero). Faults per access rather than per
// second: the accessor's speed follows the machine's other load, the policy's misses do not.
constexpr int kFlat = 15;
constexpr double kRssFlat = 0.01;
constexpr double kFaultsFlat = 0.05;
constexpr double kFaultsFloor = 1e-4;

double mib(double bytes) { return bytes / 1048576.0; }

// Sets TMC_TARGET through the control socket: a share of the plain RSS, or bytes. Returns
// the bytes set, 0 when no target is asked for; exits 2 when libtmc refuses.
uint64_t set_target(const Options& o, const TmcView& tmc, uint64_t plain_rss) {
  uint64_t bytes = o.target_bytes;
  if (o.target_percent > 0) bytes = static_cast<uint64_t>(static_cast<double>(plain_rss) * o.target_percent / 100.0);
  if (bytes == 0) return 0;
  char line[64], reply[256];
  snprintf(line, sizeof(line), "target %" PRIu64, bytes);
  if (!tmc.command(line, reply, sizeof(reply)) || strncmp(reply, "TMC_TARGET=", 11) != 0) {
    fprintf(stderr, "bench_hotset: libtmc did not take '%s': %s\n", line, reply);
    exit(2);
  }
  return bytes;
}

// Mean RSS and faults per access over samples (from, to] of the warm-up.
void flat_stats(const PolicyResults& r, size_t from, size_t to, double* rss, double* fpa) {
  double sum = 0;
  for (size_t i = from + 1; i <= to; ++i) sum += static_cast<double>(r.warmup[i].rss_bytes);
  *rss = sum / static_cast<double>(to - from);
  const uint64_t acc = r.warmup[to].accesses - r.warmup[from].accesses;
  *fpa = acc ? static_cast<double>(r.warmup[to].faults - r.warmup[from].faults) / static_cast<double>(acc) : NAN;
}

void warm_up(const Options& o, const TmcView& tmc, const Accessors& acc, PolicyResults* r) {
  const size_t max_s = static_cast<size_t>(o.warmup_max_s);
  r->warmup.allocate(max_s + 1);
  const double t0 = now_s();
  const StatsSnapshot first = tmc.snapshot();
  r->warmup[0] = WarmupSample{0, first.get_or_zero("rss_bytes"), first.get_or_zero("faults"), acc.progress().accesses};
  size_t s = 1;
  for (; s <= max_s; ++s) {
    sleep_until(t0 + static_cast<double>(s));
    const StatsSnapshot st = tmc.snapshot();
    WarmupSample& w = r->warmup[s];
    w = WarmupSample{now_s() - t0, st.get_or_zero("rss_bytes"), st.get_or_zero("faults"), acc.progress().accesses};
    r->warmup_samples = s + 1;
    bool flat = false;
    if (static_cast<double>(s) >= o.warmup_s && s >= 2 * kFlat) {
      double rss_a, fpa_a, rss_b, fpa_b;
      flat_stats(*r, s - 2 * kFlat, s - kFlat, &rss_a, &fpa_a);
      flat_stats(*r, s - kFlat, s, &rss_b, &fpa_b);
      flat = std::fabs(rss_b - rss_a) < kRssFlat * static_cast<double>(r->plain_rss) &&
             std::isfinite(fpa_a) && std::isfinite(fpa_b) &&
             std::fabs(fpa_b - fpa_a) < std::fmax(kFaultsFlat * fpa_a, kFaultsFloor);
    }
    if (s % 10 == 0 || flat || s == max_s) {
      const WarmupSample& p = r->warmup[s >= 10 ? s - 10 : 0];
      const double dt = w.t_s - p.t_s;
      const uint64_t da = w.accesses - p.accesses, df = w.faults - p.faults;
      fprintf(stderr, "bench_hotset: warm-up %4zu s: RSS %.0f MiB, %.4f faults/access, %.0f faults/s, %.3g accesses/s\n", s,
              mib(static_cast<double>(w.rss_bytes)), da ? static_cast<double>(df) / static_cast<double>(da) : 0.0,
              static_cast<double>(df) / dt, static_cast<double>(da) / dt);
    }
    if (flat) {
      r->settled = true;
      break;
    }
  }
  if (!r->settled)
    fprintf(stderr, "bench_hotset: warning: RSS or faults per access were still moving after --warmup-max %.0f s; the window is not at steady state\n",
            o.warmup_max_s);
  r->warmup_s = now_s() - t0;
}

void take_sample(const Heap& heap, Pagemap& pm, const ZipfPages& seq, const TmcView& tmc, const Accessors& acc, double t_s,
                 WindowSample* w) {
  const StatsSnapshot st = tmc.snapshot();
  *w = WindowSample{};
  w->t_s = t_s;
  w->accesses = acc.progress().accesses;
  w->rss_bytes = st.get_or_zero("rss_bytes");
  w->pool_bytes = st.get_or_zero("pool_bytes");
  w->compressed_pages = st.get_or_zero("compressed_pages");
  pm.for_each(heap, [&](size_t page, bool present, bool) {
    if (!present) return;
    ++w->resident;
    ++w->band_resident[seq.band_of_page(page)];
  });
}

void measure(const Options& o, const Heap& heap, Pagemap& pm, const ZipfPages& seq, const TmcView& tmc,
             const Accessors& acc, PolicyResults* r) {
  const size_t n = static_cast<size_t>(std::ceil(o.measure_s / o.sample_s)) + 1;
  r->samples.allocate(n);
  // The counters the window is judged by are read together at its two ends; the censuses
  // run in between, so their own cost is the main thread's, never the accessor's.
  r->s0 = tmc.snapshot();
  Accessors::Progress p0 = acc.progress();
  const uint64_t w0 = acc.writes(), cpu0 = process_cpu_ns(), acpu0 = acc.cpu_ns();
  const double t0 = now_s(), end = t0 + o.measure_s;
  for (size_t k = 0; k < n; ++k) {
    const double at = t0 + static_cast<double>(k) * o.sample_s;
    if (at >= end) break;
    sleep_until(at);
    take_sample(heap, pm, seq, tmc, acc, now_s() - t0, &r->samples[k]);
    r->n_samples = k + 1;
    const WindowSample& w = r->samples[k];
    if (k % static_cast<size_t>(std::fmax(1, std::round(10 / o.sample_s))) == 0)
      fprintf(stderr, "bench_hotset: window %4.0f s: %zu heap pages resident, RSS %.0f MiB, pool %.0f MiB\n", w.t_s,
              w.resident, mib(static_cast<double>(w.rss_bytes)), mib(static_cast<double>(w.pool_bytes)));
  }
  sleep_until(end);
  const double t1 = now_s();
  r->s1 = tmc.snapshot();
  const Accessors::Progress p1 = acc.progress();
  r->process_cpu_ns = process_cpu_ns() - cpu0;
  r->accessor_cpu_ns = acc.cpu_ns() - acpu0;
  r->writes = acc.writes() - w0;
  r->window_s = t1 - t0;
  r->a0 = p0.accesses;
  r->fp0 = p0.fingerprint;
  r->a1 = p1.accesses;
  r->fp1 = p1.fingerprint;
}

// The sequence again from its start, through the LRU caches, up to the last access of the
// window; misses counted in the window only. The fingerprints say it is the accessor's.
// The kTraceResident cache takes each census's resident count as its budget from the access
// the census began at (the first census's before it, warm-up included).
void replay(const ZipfPages& seq, PolicyResults* r) {
  const int sims = r->n_lru;
  LruSim lru[3];
  int trace = -1;
  for (int i = 0; i < sims; ++i) {
    const bool traced = r->lru[i].kind == Budget::kTraceResident;
    lru[i].init(seq.pages(), traced ? r->samples[0].resident : r->lru[i].budget);
    if (traced) trace = i;
  }
  size_t next_census = 1;
  OutsideArray<uint8_t> seen;
  seen.allocate(seq.pages());
  const double t0 = now_s();
  Rng rng = seq.stream();
  uint64_t fp = 0;
  size_t touched = 0;
  uint64_t misses[3] = {};
  bool start_ok = r->a0 == 0 && r->fp0 == 0;
  for (uint64_t i = 0; i < r->a1; ++i) {
    if (i == r->a0) start_ok = fp == r->fp0;
    if (trace >= 0 && next_census < r->n_samples && i >= r->samples[next_census].accesses)
      lru[trace].set_budget(r->samples[next_census++].resident);
    const Access a = seq.next(rng);
    fp = zipf_fingerprint(fp, a.page);
    touched += i < r->a0 && seen[a.page] == 0;
    seen[a.page] = 1;
    for (int k = 0; k < sims; ++k) {
      const bool hit = lru[k].access(a.page);
      misses[k] += i >= r->a0 && !hit;
    }
  }
  r->replay_matches = start_ok && fp == r->fp1;
  r->replay_s = now_s() - t0;
  r->touched_before_window = touched;
  for (int k = 0; k < sims; ++k) {
    r->lru[k].misses = misses[k];
    for (size_t p = 0; p < seq.pages(); ++p)
      if (lru[k].is_resident(p)) ++r->lru[k].band_resident[seq.band_of_page(p)];
  }
}

}  // namespace

int run_policy(const Options& o, const Heap& heap, Pagemap& pm, const TmcView& tmc, double fill_s) {
  PolicyResults r;
  r.opt = o;
  r.pages = heap.pages();
  r.fill_s = fill_s;
  const StatsSnapshot after_fill = tmc.snapshot();
  r.plain_rss = after_fill.get_or_zero("rss_bytes");
  r.evictions_at_fill = after_fill.get_or_zero("evictions");
  if (r.evictions_at_fill > 0)
    fprintf(stderr, "bench_hotset: warning: libtmc evicted %" PRIu64 " pages during the fill: the plain RSS (%.0f MiB) is understated\n",
            r.evictions_at_fill, mib(static_cast<double>(r.plain_rss)));

  const ZipfPages seq(heap.pages(), o.zipf_s, o.seed);
  for (int b = 0; b < kBands; ++b) {
    r.band_pages[b] = seq.band_pages(b);
    r.band_access_share[b] = seq.band_access_share(b);
  }
  r.target_bytes = set_target(o, tmc, r.plain_rss);
  fprintf(stderr, "bench_hotset: plain RSS %.0f MiB, TMC_TARGET %.0f MiB; Zipf(%g) over %zu pages\n",
          mib(static_cast<double>(r.plain_rss)), mib(static_cast<double>(r.target_bytes)), o.zipf_s, r.pages);

  Accessors acc;
  acc.start_zipf(&heap, &seq, o.write_percent);
  warm_up(o, tmc, acc, &r);
  fprintf(stderr, "bench_hotset: measuring for %.0f s\n", o.measure_s);
  measure(o, heap, pm, seq, tmc, acc, &r);
  r.target_stat = r.s1.get_or_zero("target_bytes");
  acc.stop();

  fprintf(stderr, "bench_hotset: checking every page\n");
  const uint64_t f0 = tmc.snapshot().get_or_zero("faults");
  double t = now_s();
  heap.check_all(o.seed, [&](size_t i, unsigned char* scratch) {
    if (++r.bad <= 5) heap.report_mismatch(o.seed, i, scratch, "heap");
  });
  r.checked = heap.pages();
  r.check_s = now_s() - t;
  r.final_stats = tmc.snapshot();
  r.check_faults = r.final_stats.get_or_zero("faults") - f0;

  // The simulation's arrays are allocated only now, so they were not in the window's RSS.
  const size_t mean = static_cast<size_t>(std::llround(r.mean_resident()));
  r.lru[r.n_lru++] = LruRun{Budget::kMeanResident, mean, 0, {}};
  r.lru[r.n_lru++] = LruRun{Budget::kTraceResident, mean, 0, {}};
  if (r.target_bytes != 0) r.lru[r.n_lru++] = LruRun{Budget::kTarget, r.target_budget(), 0, {}};
  fprintf(stderr, "bench_hotset: replaying %" PRIu64 " accesses through LRU at %zu pages, at each census's count%s\n", r.a1, mean,
          r.target_bytes != 0 ? " and at the target's budget" : "");
  replay(seq, &r);
  if (o.json) print_policy_json(r, stdout);
  else print_policy_table(r, stdout);
  fflush(stdout);
  if (r.bad > 0) {
    fprintf(stderr, "bench_hotset: FAIL: %zu pages differ from their original contents\n", r.bad);
    return 1;
  }
  if (!r.replay_matches) {
    fprintf(stderr, "bench_hotset: the replay drew other pages than the accessor: the LRU figures do not describe this run\n");
    return 2;
  }
  return 0;
}

}  // namespace acc
