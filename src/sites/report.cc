// See report.h.
#include "sites/report.h"

#include <algorithm>
#include <cstdio>

#include "sites/sampler.h"

namespace tmc::sites {
namespace {

// The per-site sums of one line.
struct Totals {
  uint64_t live_samples = 0;
  double objects = 0, bytes = 0, evicted = 0, faults = 0, freed = 0, lifetime_ns = 0;
  void add(const Site& s, double evicted_bytes) {
    live_samples += s.live_samples;
    objects += s.live_objects;
    bytes += s.live_bytes;
    evicted += evicted_bytes;
    faults += s.faults;
    freed += s.freed_objects;
    lifetime_ns += s.lifetime_ns;
  }
};

class Writer {
 public:
  Writer(char* out, size_t size) : out_(out), size_(size) {}
  template <typename... Args>
  bool line(const char* fmt, Args... args) {
    if (len_ >= size_) return false;
    int n = snprintf(out_ + len_, size_ - len_, fmt, args...);
    if (n < 0 || static_cast<size_t>(n) >= size_ - len_) return false;
    len_ += static_cast<size_t>(n);
    return true;
  }
  size_t mark() const { return len_; }
  void rewind(size_t to) { len_ = to; out_[len_] = '\0'; }
  size_t length() const { return len_; }

 private:
  char* out_;
  size_t size_;
  size_t len_ = 0;
};

unsigned long long u(double v) { return v <= 0 ? 0 : static_cast<unsigned long long>(v + 0.5); }

}  // namespace

size_t format_report(const ReportInputs& in, char* out, size_t size) {
  Writer w(out, size);
  if (!enabled()) return w.line("error: allocation sites are not sampled (TMC_SITES=0, or libtmc is not active)\n"), w.length();
  drain_faults();
  Snapshot snap;
  if (!snap.take()) return w.line("error: no memory for the report\n"), w.length();
  const double* evicted = snap.evicted_bytes(in.evicted_bytes);
  const uint32_t site_count = snap.site_count();
  // Site ids, the largest first. Static: 32 KiB is too much for the background thread's
  // stack, and only that thread makes reports.
  static uint32_t order[kMaxSites];
  for (uint32_t i = 0; i < site_count; ++i) order[i] = i;
  std::sort(order, order + site_count, [&](uint32_t a, uint32_t b) { return snap.site(a).live_bytes > snap.site(b).live_bytes; });

  Totals all;
  for (uint32_t i = 0; i < site_count; ++i) all.add(snap.site(i), evicted[i]);
  w.line("tmc-sites 1\n");
  w.line("sample_interval_bytes %llu\n", static_cast<unsigned long long>(interval()));
  w.line("heap_bytes %llu\n", static_cast<unsigned long long>(in.heap_bytes));
  w.line("live_samples %llu\n", static_cast<unsigned long long>(snap.sample_count()));
  w.line("sites %u\n", site_count - 1);
  w.line("total %llu %llu %llu %llu %llu %llu %llu\n", static_cast<unsigned long long>(all.live_samples),
         u(all.objects), u(all.bytes), u(all.evicted), u(all.faults), u(all.freed), u(all.lifetime_ns));
  // Fields: id live_samples objects bytes evicted_bytes faults freed_objects lifetime_ns
  // frames (hex return addresses, innermost first, comma separated; "-" for none).
  Totals rest;
  uint32_t rest_sites = 0, listed = 0;
  for (uint32_t k = 0; k < site_count; ++k) {
    const uint32_t id = order[k];
    const Site& s = snap.site(id);
    if (s.samples_total == 0) continue;
    size_t before = w.mark();
    bool ok = listed < in.max_sites &&
              w.line("site %u %u %llu %llu %llu %llu %llu %llu ", id, s.live_samples, u(s.live_objects), u(s.live_bytes),
                     u(evicted[id]), u(s.faults), u(s.freed_objects), u(s.lifetime_ns));
    for (uint32_t f = 0; ok && f < s.depth; ++f)
      ok = w.line(f == 0 ? "%lx" : ",%lx", static_cast<unsigned long>(s.frames[f]));
    if (ok && s.depth == 0) ok = w.line("-");
    // Room is kept for the "rest" and "end" lines.
    if (ok) ok = w.line("\n") && w.length() + 160 < size;
    if (ok) {
      listed++;
      continue;
    }
    w.rewind(before);
    rest.add(s, evicted[id]);
    rest_sites++;
  }
  w.line("rest %u %llu %llu %llu %llu %llu %llu %llu\n", rest_sites, static_cast<unsigned long long>(rest.live_samples),
         u(rest.objects), u(rest.bytes), u(rest.evicted), u(rest.faults), u(rest.freed), u(rest.lifetime_ns));
  w.line("end\n");
  return w.length();
}

}  // namespace tmc::sites
