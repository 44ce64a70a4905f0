// Human and JSON reports (report.h).
#include "report.h"

namespace tmc::loadgen {
namespace {

double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }
double ops_per_s(const PhaseResult& r) {
  return r.seconds > 0 ? static_cast<double>(r.stats.all.count()) / r.seconds : 0;
}

void json_latency(FILE* f, const char* name, const Histogram& h) {
  std::fprintf(f, "\"%s\":{\"count\":%llu,\"mean\":%.2f,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f}",
               name, static_cast<unsigned long long>(h.count()), h.mean() / 1000.0, us(h.percentile(0.5)),
               us(h.percentile(0.9)), us(h.percentile(0.99)), us(h.percentile(0.999)), us(h.max()));
}

}  // namespace

void print_human(const Config& cfg, const PhaseResult& r) {
  const PhaseStats& s = r.stats;
  const Histogram& h = s.all;
  std::fprintf(stderr,
               "tmc_loadgen %s %s: %llu ops (%llu reads, %llu writes) in %.1f s = %.0f ops/s; latency us p50 %.1f "
               "p99 %.1f p99.9 %.1f max %.1f; client CPU %.0f%% of one core",
               cfg.server_name(), phase_name(r.phase), static_cast<unsigned long long>(h.count()),
               static_cast<unsigned long long>(s.read.count()), static_cast<unsigned long long>(s.write.count()), r.seconds,
               ops_per_s(r), us(h.percentile(0.5)), us(h.percentile(0.99)), us(h.percentile(0.999)), us(h.max()),
               r.seconds > 0 ? 100 * r.client_cpu / r.seconds : 0);
  if (s.checked) std::fprintf(stderr, "; %llu values checked, %llu mismatches", static_cast<unsigned long long>(s.checked),
                              static_cast<unsigned long long>(s.mismatches));
  if (s.skipped) std::fprintf(stderr, "; %llu keys unchanged", static_cast<unsigned long long>(s.skipped));
  std::fputc('\n', stderr);
}

void write_json(const Config& cfg, const std::vector<PhaseResult>& results, const std::string& error, FILE* f) {
  uint64_t mismatches = 0, checked = 0;
  for (const auto& r : results) mismatches += r.stats.mismatches, checked += r.stats.checked;
  std::fprintf(f, "{\"tool\":\"tmc_loadgen\",\"server\":\"%s\",\"host\":\"%s\",\"port\":%d,\"keys\":%llu,\"seed\":%llu,",
               cfg.server_name(), cfg.host.c_str(), cfg.port, static_cast<unsigned long long>(cfg.keys),
               static_cast<unsigned long long>(cfg.seed));
  std::fprintf(f, "\"dist\":\"%s\",\"read_ratio\":%.4f,\"threads\":%d,\"conns\":%d,\"pipeline\":%d,",
               cfg.dist.text().c_str(), cfg.read_ratio, cfg.threads, cfg.conns, cfg.pipeline);
  std::fprintf(f, "\"value_size\":\"%u-%u\",\"types\":\"%s\",\"distinct\":%u,\"verify\":%s,",
               cfg.sizes.min, cfg.sizes.max, cfg.types_text.c_str(), cfg.distinct, cfg.verify ? "true" : "false");
  std::fprintf(f, "\"checked\":%llu,\"mismatches\":%llu,\"error\":\"", static_cast<unsigned long long>(checked),
               static_cast<unsigned long long>(mismatches));
  for (char c : error) {
    if (c == '"' || c == '\\') std::fputc('\\', f);
    std::fputc(c >= 0x20 ? c : ' ', f);
  }
  std::fprintf(f, "\",\"ok\":%s,\"phases\":{", error.empty() && mismatches == 0 ? "true" : "false");
  for (size_t i = 0; i < results.size(); ++i) {
    const PhaseResult& r = results[i];
    const PhaseStats& s = r.stats;
    std::fprintf(f, "%s\"%s\":{\"ops\":%llu,\"reads\":%llu,\"writes\":%llu,\"checked\":%llu,\"mismatches\":%llu,",
                 i ? "," : "", phase_name(r.phase), static_cast<unsigned long long>(s.all.count()),
                 static_cast<unsigned long long>(s.read.count()), static_cast<unsigned long long>(s.write.count()),
                 static_cast<unsigned long long>(s.checked), static_cast<unsigned long long>(s.mismatches));
    std::fprintf(f, "\"write_conflicts\":%llu,\"skipped\":%llu,\"seconds\":%.3f,\"ops_per_s\":%.1f,\"client_cpu_s\":%.3f,",
                 static_cast<unsigned long long>(s.write_conflicts), static_cast<unsigned long long>(s.skipped), r.seconds,
                 ops_per_s(r), r.client_cpu);
    json_latency(f, "latency_us", s.all);
    std::fputc(',', f);
    json_latency(f, "read_latency_us", s.read);
    std::fputc(',', f);
    json_latency(f, "write_latency_us", s.write);
    std::fputs(",\"cdf_us\":[", f);
    auto cdf = s.all.cdf(cfg.cdf_points);
    for (size_t k = 0; k < cdf.size(); ++k)
      std::fprintf(f, "%s[%.2f,%.6f]", k ? "," : "", us(cdf[k].first), cdf[k].second);
    std::fputs("],\"per_second\":[", f);
    for (size_t k = 0; k < s.per_second.size(); ++k)
      std::fprintf(f, "%s%llu", k ? "," : "", static_cast<unsigned long long>(s.per_second[k]));
    std::fputs("]}", f);
  }
  std::fputs("}}\n", f);
}

}  // namespace tmc::loadgen
