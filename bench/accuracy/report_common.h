// Pieces of the report both runs of bench_hotset print (report.cc defines them): the TMC_*
// settings the process was started with and libtmc's statistics over a window.
#pragma once

#include <cstdio>

#include "json_out.h"
#include "options.h"
#include "tmc_view.h"

namespace acc {

// "- libtmc settings: `TMC_X=1` ..." (or "none"), one Markdown line.
void print_tmc_env(FILE* f);
// A Markdown table of every statistic at the window's end and its change over the window.
void print_stats_change(FILE* f, const StatsSnapshot& s0, const StatsSnapshot& s1);
// {"field": value, ...} of every statistic, under key.
void json_stats(JsonOut& j, const char* key, const StatsSnapshot& s);
// The options both runs share (dist, size, chunk, seed, writes, warm-up, window) and the
// TMC_* settings, as members of the object being written.
void json_run_options(JsonOut& j, const Options& o);
// "env": {"TMC_X": "1", ...}.
void json_tmc_env(JsonOut& j);

}  // namespace acc
