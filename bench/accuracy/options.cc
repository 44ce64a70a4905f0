#include "options.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace acc {
namespace {

const char kUsage[] =
    "usage: LD_PRELOAD=build/libtmc.so bench_hotset [options]\n"
    "A heap with a known hot set: reports the share of cold pages libtmc compressed, the share\n"
    "of hot-set accesses that faulted and libtmc's background CPU (bench/README.md).\n"
    "With --dist zipf: Zipf accesses over every page under an RSS target, libtmc's faults per\n"
    "access against an exact LRU simulation of the same sequence (bench/run_policy.sh).\n"
    "  --size SIZE            data allocated (K/M/G suffix)               [2G]\n"
    "  --chunk SIZE           size of one malloc'd object, power of two   [64K]\n"
    "  --dist D               hotset | zipf                               [hotset]\n"
    "  --hot-percent P        hotset: share of pages that are hot (0 < P <= 50) [10]\n"
    "  --layout L             hotset: contiguous | strided                [contiguous]\n"
    "  --zipf-s S             zipf: exponent, rank k drawn as 1/k^S (0 < S <= 10) [0.99]\n"
    "  --target T             zipf: TMC_TARGET set after the fill, a percentage of the\n"
    "                         heap's plain RSS (30%) or a size (512M)    [none]\n"
    "  --sample DURATION      zipf: pagemap census interval in the window [1s]\n"
    "  --warmup DURATION      least warm-up; a few TMC_COLD_AGE (500ms/30s/2m) [60s]\n"
    "  --warmup-max DURATION  warm-up goes on, up to this, until no more cold pages\n"
    "                         are being evicted (zipf: until RSS and faults per access\n"
    "                         are flat)                               [4 x --warmup]\n"
    "  --measure DURATION     the measured window                         [60s]\n"
    "  --threads N            hotset: accessor threads (1..64)            [1]\n"
    "  --write-percent P      share of accesses that write (0..100)       [10]\n"
    "  --shift                hotset: then move the hot set and report every second\n"
    "  --shift-time DURATION  hotset: how long to follow the moved hot set [60s]\n"
    "  --seed N               seed of the page contents (zipf: and of the accesses) [1]\n"
    "  --json                 JSON on stdout instead of the table\n";

// "2G", "256M", "64K", "4096": bytes; false if malformed or zero.
bool parse_size(const char* s, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || !(v > 0)) return false;
  double mult = 1;
  switch (*end) {
    case 'k': case 'K': mult = 1024.0; ++end; break;
    case 'm': case 'M': mult = 1024.0 * 1024; ++end; break;
    case 'g': case 'G': mult = 1024.0 * 1024 * 1024; ++end; break;
    case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; ++end; break;
    default: break;
  }
  if (*end != '\0') return false;
  *out = static_cast<uint64_t>(v * mult);
  return *out > 0;
}

// "500ms", "30s", "2m", "1h", bare number = seconds (TMC_COLD_AGE's syntax). >= 0.
bool parse_duration(const char* s, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || !(v >= 0) || std::isinf(v)) return false;
  double mult = 1;
  if (strcmp(end, "ms") == 0) mult = 0.001;
  else if (strcmp(end, "s") == 0 || *end == '\0') mult = 1;
  else if (strcmp(end, "m") == 0) mult = 60;
  else if (strcmp(end, "h") == 0) mult = 3600;
  else return false;
  *out = v * mult;
  return true;
}

bool parse_number(const char* s, double lo, double hi, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) return false;
  *out = v;
  return true;
}

bool fail(std::string* err, const char* opt, const char* value, const char* accepts) {
  *err = std::string(opt) + ": bad value '" + value + "' (accepts " + accepts + ")";
  return false;
}

}  // namespace

const char* layout_name(Layout l) { return l == Layout::kStrided ? "strided" : "contiguous"; }
const char* dist_name(Dist d) { return d == Dist::kZipf ? "zipf" : "hotset"; }

bool parse_options(int argc, char** argv, Options* o, std::string* err) {
  err->clear();
  // Options of one distribution given with the other are refused rather than ignored: a
  // run must not look like it measured something it did not.
  const char* hotset_only = nullptr;
  const char* zipf_only = nullptr;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(kUsage, stdout);
      return false;
    }
    if (strcmp(a, "--shift") == 0) { o->shift = true; hotset_only = a; continue; }
    if (strcmp(a, "--json") == 0) { o->json = true; continue; }
    if (strncmp(a, "--", 2) != 0) {
      *err = std::string("unexpected argument '") + a + "' (see --help)";
      return false;
    }
    if (i + 1 >= argc) {
      *err = std::string(a) + ": needs a value (see --help)";
      return false;
    }
    const char* v = argv[++i];
    double d = 0;
    if (strcmp(a, "--size") == 0) {
      if (!parse_size(v, &o->size_bytes)) return fail(err, a, v, "a size such as 2G, 256M");
    } else if (strcmp(a, "--chunk") == 0) {
      uint64_t c = 0;
      if (!parse_size(v, &c) || c < 4096 || (c & (c - 1)) != 0)
        return fail(err, a, v, "a power of two of at least 4K, such as 64K or 1M");
      o->chunk_bytes = c;
    } else if (strcmp(a, "--dist") == 0) {
      if (strcmp(v, "hotset") == 0) o->dist = Dist::kHotSet;
      else if (strcmp(v, "zipf") == 0) o->dist = Dist::kZipf;
      else return fail(err, a, v, "hotset or zipf");
    } else if (strcmp(a, "--zipf-s") == 0) {
      if (!parse_number(v, 0, 10, &d) || d <= 0) return fail(err, a, v, "an exponent above 0, at most 10, such as 0.99");
      o->zipf_s = d;
      zipf_only = a;
    } else if (strcmp(a, "--target") == 0) {
      const size_t n = strlen(v);
      if (n > 1 && v[n - 1] == '%') {
        std::string pct(v, n - 1);
        if (!parse_number(pct.c_str(), 0, 100, &d) || d <= 0) return fail(err, a, v, "a percentage above 0, at most 100, or a size");
        o->target_percent = d;
        o->target_bytes = 0;
      } else {
        if (!parse_size(v, &o->target_bytes)) return fail(err, a, v, "a percentage such as 30% or a size such as 512M");
        o->target_percent = 0;
      }
      zipf_only = a;
    } else if (strcmp(a, "--sample") == 0) {
      if (!parse_duration(v, &o->sample_s) || o->sample_s < 0.05) return fail(err, a, v, "a duration of at least 50ms");
      zipf_only = a;
    } else if (strcmp(a, "--hot-percent") == 0) {
      hotset_only = a;
      // At most half, so that --shift can move to a window disjoint from the first one.
      if (!parse_number(v, 0, 50, &d) || d <= 0) return fail(err, a, v, "a percentage above 0, at most 50");
      o->hot_percent = d;
    } else if (strcmp(a, "--layout") == 0) {
      hotset_only = a;
      if (strcmp(v, "contiguous") == 0) o->layout = Layout::kContiguous;
      else if (strcmp(v, "strided") == 0) o->layout = Layout::kStrided;
      else return fail(err, a, v, "contiguous or strided");
    } else if (strcmp(a, "--warmup") == 0) {
      if (!parse_duration(v, &o->warmup_s)) return fail(err, a, v, "a duration such as 500ms, 60s, 2m");
    } else if (strcmp(a, "--warmup-max") == 0) {
      if (!parse_duration(v, &o->warmup_max_s)) return fail(err, a, v, "a duration such as 10m");
    } else if (strcmp(a, "--measure") == 0) {
      if (!parse_duration(v, &o->measure_s) || o->measure_s < 1)
        return fail(err, a, v, "a duration of at least 1s");
    } else if (strcmp(a, "--threads") == 0) {
      hotset_only = a;
      if (!parse_number(v, 1, 64, &d) || d != std::floor(d)) return fail(err, a, v, "a whole number 1..64");
      o->threads = static_cast<int>(d);
    } else if (strcmp(a, "--write-percent") == 0) {
      if (!parse_number(v, 0, 100, &d)) return fail(err, a, v, "a percentage 0..100");
      o->write_percent = d;
    } else if (strcmp(a, "--shift-time") == 0) {
      hotset_only = a;
      if (!parse_duration(v, &o->shift_s) || o->shift_s < 1) return fail(err, a, v, "a duration of at least 1s");
    } else if (strcmp(a, "--seed") == 0) {
      char* end = nullptr;
      errno = 0;
      unsigned long long s = strtoull(v, &end, 10);
      if (errno != 0 || end == v || *end != '\0') return fail(err, a, v, "a whole number");
      o->seed = s;
    } else {
      *err = std::string("unknown option '") + a + "' (see --help)";
      return false;
    }
  }
  if (o->dist == Dist::kZipf && hotset_only != nullptr) {
    // One accessor thread only: the LRU simulation replays the sequence of one generator.
    *err = std::string(hotset_only) + ": applies to --dist hotset only";
    return false;
  }
  if (o->dist == Dist::kHotSet && zipf_only != nullptr) {
    *err = std::string(zipf_only) + ": applies to --dist zipf only";
    return false;
  }
  if (o->warmup_max_s == 0) o->warmup_max_s = 4 * o->warmup_s;
  if (o->warmup_max_s < o->warmup_s) {
    *err = "--warmup-max: must not be shorter than --warmup";
    return false;
  }
  if (o->size_bytes < o->chunk_bytes * 20) {
    *err = "--size: must hold at least 20 chunks of --chunk (the hot set needs whole pages of a few chunks)";
    return false;
  }
  return true;
}

}  // namespace acc
