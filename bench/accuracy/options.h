// Command line of bench_hotset (bench/accuracy/hotset.cc): what heap to build, how its pages
// are accessed (a hot set, or Zipf over all pages under an RSS target), how long each phase
// lasts. parse_options() rejects anything malformed with one line naming the option and
// what it accepts.
#pragma once

#include <cstdint>
#include <string>

namespace acc {

// How the hot pages lie among all pages of the heap.
enum class Layout {
  kContiguous,  // one run of pages: whole 2 MiB blocks are hot or cold
  kStrided,     // every Nth page: every block mixes hot and cold pages
};

// How the accessor picks pages.
enum class Dist {
  kHotSet,  // uniformly within the hot window; the rest never touched (cold detection)
  kZipf,    // Zipf over every page, ranks scattered by a seeded permutation (policy_run.cc)
};

struct Options {
  Dist dist = Dist::kHotSet;
  uint64_t size_bytes = uint64_t{2} << 30;  // data allocated, in chunks of chunk_bytes
  uint64_t chunk_bytes = 64 << 10;          // one malloc'd object; a power of two >= 4 KiB
  double hot_percent = 10;                  // share of the pages the accessors touch
  Layout layout = Layout::kContiguous;
  double warmup_s = 60;       // at least this long before measuring,
  double warmup_max_s = 0;    // and on until the cold pages stop going, at most this (0: 4x warmup_s)
  double measure_s = 60;
  int threads = 1;
  double write_percent = 10;  // share of hot accesses that write; the rest read
  bool shift = false;         // after measuring, move the hot set and follow it
  double shift_s = 60;
  // --dist zipf only.
  double zipf_s = 0.99;          // exponent: page of rank k drawn in proportion to 1/k^s
  uint64_t target_bytes = 0;     // TMC_TARGET set after the fill: bytes, or
  double target_percent = 0;     // a percentage of the heap's plain RSS (VmRSS after the fill)
  double sample_s = 1;           // pagemap census interval during the window
  bool json = false;  // JSON on stdout instead of the table
  uint64_t seed = 1;  // page contents are a function of (seed, page index)
};

// Fills *out from argv. On a bad argument returns false with a one-line message in *err;
// on --help returns false with an empty *err after printing the usage to stdout.
bool parse_options(int argc, char** argv, Options* out, std::string* err);

const char* layout_name(Layout l);
const char* dist_name(Dist d);

}  // namespace acc
