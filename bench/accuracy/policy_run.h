// `bench_hotset --dist zipf`: libtmc's choice of pages against LRU (issue 12). On the filled
// heap it sets TMC_TARGET (a share of the heap's plain RSS), runs one accessor thread on a
// seeded Zipf sequence over every page (zipf_pages.h), warms up until RSS and faults per
// access are flat, then measures a window: accesses, libtmc's faults, RSS, the pool, and the
// heap pages resident (a pagemap census every --sample). It then checks every page and
// replays the exact sequence the thread ran through an exact LRU (lru_sim.h) at three resident
// budgets: (a) the mean number of heap pages libtmc kept resident in the window, (a') each
// census's count in turn (libtmc's resident set can swing, and the thread's speed with it),
// (b) the pages the target would leave resident if every other page cost its compressed
// size. The ratio libtmc faults/access over LRU misses/access is the result.
#pragma once

#include "heap.h"
#include "options.h"
#include "pagemap.h"
#include "tmc_view.h"

namespace acc {

// Exit status as bench_hotset's: 0 data intact, 1 a page differs, 2 cannot measure.
int run_policy(const Options& o, const Heap& heap, Pagemap& pm, const TmcView& tmc, double fill_s);

}  // namespace acc
