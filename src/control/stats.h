// libtmc's statistics: the identifiers come from include/tmc/stats.def, the values from
// two kinds of sources:
//  - event counters that libtmc's own threads bump (stat_add), kept here as atomics;
//  - gauges and per-thread counters owned by other modules (RSS, jemalloc's allocated
//    bytes, region sizes, malloc call counts), which those modules contribute through a
//    source function registered at start-up, so this module depends on none of them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tmc/tmc.h"

namespace tmc::control {

enum class StatId : int {
#define TMC_STAT(name, kind, unit, doc) name,
#include "tmc/stats.def"
#undef TMC_STAT
  kCount
};
inline constexpr int kStatCount = static_cast<int>(StatId::kCount);

struct StatInfo {
  const char* name;
  const char* unit;
  const char* doc;
};
const StatInfo& stat_info(StatId id);

// Adds to an event counter. Not for the malloc fast path (it is an atomic add).
void stat_add(StatId id, uint64_t delta);

// A module's contribution to a snapshot: it writes the fields it owns.
using StatsSource = void (*)(tmc_stats* out);
// Registers a source; returns false when the fixed table of sources is full.
bool register_stats_source(StatsSource source);

// Fills *out: the event counters, then every registered source.
void stats_snapshot(tmc_stats* out);

// Field access by id, for generic printers.
uint64_t stat_field(const tmc_stats& s, StatId id);

// Writes the snapshot as one JSON object ({"rss_bytes": 123, ...}) into buf.
// Returns the length written (truncated output is never produced: returns 0 if too small).
size_t format_stats_json(const tmc_stats& s, char* buf, size_t size);

}  // namespace tmc::control
