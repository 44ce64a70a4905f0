// Command-line parsing (options.h).
#include "options.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace tmc::loadgen {
namespace {

constexpr const char* kUsage = R"(usage: tmc_loadgen --server redis|memcached --port PORT [options]

Drives Redis (RESP) or memcached (text protocol) on 127.0.0.1 with realistic values
(JSON records, English-like text, numbers, session blobs; values.h) and reports ops/s and
latency percentiles. Phases, in this order, each only when asked for:
  --load               write every key once (version 1)
  --duration D | --ops N   the timed run: reads and writes by --dist and --reads
  --check-all          read every key once and compare it with what was written
  --reset              write version 1 back to every key written since (so the dataset
                       equals a fresh load again: DEBUG DIGEST can be compared)

connection
  --server redis|memcached   (default redis)
  --host HOST          (default 127.0.0.1)     --port PORT (required)
  --threads T          client threads (default 1)
  --conns C            connections per thread (default 4)
  --pipeline D         requests in flight per connection in the timed run (default 8)
  --load-pipeline D    ... in --load, --check-all and --reset (default 64)
dataset
  --keys N             key count (default 100000)
  --seed S             dataset seed: values are generated from (seed, key, version)
  --value-size MIN-MAX target value bytes, log-uniform (default 100-4096), or one size
  --types LIST         Redis key types by weight (default string:65,hash:20,list:15);
                       memcached stores hashes and lists flattened
  --distinct N         repeated values: every value is one of N contents per key type
                       (1..1048576; with --types string:100, N in all), the content picked
                       from (seed, key, version), writes included; every read is still
                       checked. E.g. --types string:100 --value-size 4096 --distinct 64:
                       4 KiB values from 64 contents. Default: every value its own
load
  --dist SPEC          uniform | zipf:S (e.g. zipf:0.99) | hotset:K:P (K% of keys get P%
                       of requests, e.g. hotset:10:90) | recent:K:S (zipf:S over the K% of
                       keys loaded last, the rest never asked for, e.g. recent:20:0.99)
                       (default uniform)
  --reads R            share of reads, 0..1 or a percentage (default 0.9)
  --warmup D           leave the first D of the timed run out of the statistics
checking and output
  --verify             check every value read in the timed run (reads compare the value
                       with the versions the key may hold; a mismatch makes the exit
                       status 1). --check-all always checks.
  --state FILE         keep the per-key versions in FILE, for a later --check-all/--reset
  --json FILE          the report as JSON (- = stdout): phases, latency percentiles, a
                       latency CDF (--cdf-points N, default 60), ops per second
  --quiet              no progress lines on stderr
compressibility
  --ratio              lz4 / zstd -1 ratio of generated values, whole and per 4 KiB page
  --sample FILE        write the generated values (--sample-bytes, default 16M) to FILE
Durations: 30s, 500ms, 2m (bare = seconds). Sizes: 16M, 1G (bare = bytes).
Exit status: 0 ok, 1 mismatches or server errors, 2 bad command line, 3 connection failed.
)";

bool parse_u64(std::string_view s, uint64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

bool parse_int(std::string_view s, int lo, int hi, int* v) {
  uint64_t x = 0;
  if (!parse_u64(s, &x) || x < static_cast<uint64_t>(lo) || x > static_cast<uint64_t>(hi)) return false;
  *v = static_cast<int>(x);
  return true;
}

// The whole-number options: name, range, field.
struct IntOption {
  std::string_view name;
  int lo, hi;
  int Config::*field;
};
constexpr IntOption kIntOptions[] = {
    {"--threads", 1, 256, &Config::threads},          {"--conns", 1, 1024, &Config::conns},
    {"--pipeline", 1, 4096, &Config::pipeline},       {"--load-pipeline", 1, 4096, &Config::load_pipeline},
    {"--cdf-points", 2, 10000, &Config::cdf_points}, {"--port", 1, 65535, &Config::port}};
const IntOption* find_int_option(std::string_view name) {
  for (const auto& o : kIntOptions)
    if (o.name == name) return &o;
  return nullptr;
}

int bad(const std::string& msg) {
  std::fprintf(stderr, "tmc_loadgen: %s\n(tmc_loadgen --help lists the options)\n", msg.c_str());
  return 2;
}

}  // namespace

bool parse_duration(const std::string& s, double* seconds) {
  std::string_view v(s);
  double mult = 1;
  if (v.ends_with("ms")) mult = 0.001, v.remove_suffix(2);
  else if (v.ends_with("s")) v.remove_suffix(1);
  else if (v.ends_with("m")) mult = 60, v.remove_suffix(1);
  else if (v.ends_with("h")) mult = 3600, v.remove_suffix(1);
  double x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !(x >= 0) || !std::isfinite(x)) return false;
  *seconds = x * mult;
  return true;
}

bool parse_bytes(const std::string& s, uint64_t* bytes) {
  std::string_view v(s);
  uint64_t mult = 1;
  if (!v.empty()) {
    switch (v.back()) {
      case 'K': case 'k': mult = 1ull << 10; break;
      case 'M': case 'm': mult = 1ull << 20; break;
      case 'G': case 'g': mult = 1ull << 30; break;
      default: break;
    }
    if (mult != 1) v.remove_suffix(1);
  }
  uint64_t x = 0;
  if (!parse_u64(v, &x) || x > (1ull << 44) / mult) return false;
  *bytes = x * mult;
  return true;
}

int parse_args(int argc, char** argv, Config* cfg, bool* exit_now) {
  *exit_now = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    // Flags without a value.
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      *exit_now = true;
      return 0;
    }
    bool* flag = a == "--load"        ? &cfg->load
                 : a == "--verify"    ? &cfg->verify
                 : a == "--check-all" ? &cfg->check_all
                 : a == "--reset"     ? &cfg->reset
                 : a == "--ratio"     ? &cfg->ratio
                 : a == "--quiet"     ? &cfg->quiet
                                      : nullptr;
    if (flag) {
      *flag = true;
      continue;
    }
    if (!a.starts_with("--")) return *exit_now = true, bad("unexpected argument '" + a + "'");
    static constexpr std::string_view kWithValue[] = {
        "--server", "--host", "--port", "--keys", "--seed", "--dist", "--reads", "--threads", "--conns", "--pipeline",
        "--load-pipeline", "--duration", "--warmup", "--ops", "--value-size", "--types", "--state", "--json",
        "--cdf-points", "--sample", "--sample-bytes", "--distinct"};
    if (std::find(std::begin(kWithValue), std::end(kWithValue), a) == std::end(kWithValue))
      return *exit_now = true, bad("unknown option '" + a + "'");
    if (i + 1 >= argc) return *exit_now = true, bad(a + " needs a value");
    const std::string v = argv[++i];
    std::string err;
    bool ok = true;
    if (a == "--server") {
      if (v == "redis") cfg->server = ServerKind::kRedis;
      else if (v == "memcached") cfg->server = ServerKind::kMemcached;
      else ok = false, err = "--server takes redis or memcached, not '" + v + "'";
    } else if (a == "--host") {
      cfg->host = v;
    } else if (a == "--keys") {
      ok = parse_u64(v, &cfg->keys) && cfg->keys >= 1 && cfg->keys <= (1ull << 31);
      err = "--keys takes 1..2147483648";
    } else if (a == "--seed") {
      ok = parse_u64(v, &cfg->seed);
      err = "--seed takes a non-negative integer";
    } else if (a == "--dist") {
      ok = parse_dist(v, &cfg->dist, &err);
    } else if (a == "--reads") {
      double r = -1;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), r);
      ok = ec == std::errc() && p == v.data() + v.size() && r >= 0 && r <= 100;
      if (ok && r > 1) r /= 100;  // a percentage
      cfg->read_ratio = r;
      err = "--reads takes a share 0..1 or a percentage 0..100";
    } else if (const IntOption* io = find_int_option(a)) {
      ok = parse_int(v, io->lo, io->hi, &(cfg->*(io->field)));
      err = a + " takes " + std::to_string(io->lo) + ".." + std::to_string(io->hi);
    } else if (a == "--duration") {
      ok = parse_duration(v, &cfg->duration_s);
      err = "--duration takes a duration such as 30s, 500ms, 2m";
    } else if (a == "--warmup") {
      ok = parse_duration(v, &cfg->warmup_s);
      err = "--warmup takes a duration such as 5s";
    } else if (a == "--ops") {
      ok = parse_u64(v, &cfg->ops) && cfg->ops > 0;
      err = "--ops takes a positive integer";
    } else if (a == "--value-size") {
      ok = parse_sizes(v, &cfg->sizes, &err);
    } else if (a == "--distinct") {
      uint64_t n = 0;
      ok = parse_u64(v, &n) && n >= 1 && n <= kMaxDistinct;
      cfg->distinct = static_cast<uint32_t>(ok ? n : 0);
      err = "--distinct takes 1.." + std::to_string(kMaxDistinct);
    } else if (a == "--types") {
      ok = parse_types(v, &cfg->types, &err);
      cfg->types_text = v;
    } else if (a == "--state") {
      cfg->state_path = v;
    } else if (a == "--json") {
      cfg->json_path = v;
    } else if (a == "--sample") {
      cfg->sample_path = v;
    } else if (a == "--sample-bytes") {
      ok = parse_bytes(v, &cfg->sample_bytes) && cfg->sample_bytes >= 4096;
      err = "--sample-bytes takes a size of at least 4096 (e.g. 16M)";
    }
    if (!ok) return *exit_now = true, bad(err + " (got '" + v + "')");
  }
  const bool talks = cfg->load || cfg->run_phase() || cfg->check_all || cfg->reset;
  if (!talks && !cfg->ratio && cfg->sample_path.empty())
    return *exit_now = true, bad("nothing to do: give --load, --duration/--ops, --check-all, --reset, --ratio or --sample");
  if (talks && cfg->port == 0) return *exit_now = true, bad("--port is required");
  if (cfg->duration_s > 0 && cfg->warmup_s >= cfg->duration_s)
    return *exit_now = true, bad("--warmup must be shorter than --duration");
  return 0;
}

}  // namespace tmc::loadgen
