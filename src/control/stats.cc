#include "control/stats.h"

#include <atomic>
#include <cstring>

namespace tmc::control {
namespace {

constexpr StatInfo kStats[kStatCount] = {
#define TMC_STAT(name, kind, unit, doc) {#name, unit, doc},
#include "tmc/stats.def"
#undef TMC_STAT
};

std::atomic<uint64_t> g_counters[kStatCount];

constexpr int kMaxSources = 8;
std::atomic<StatsSource> g_sources[kMaxSources];

// Field offsets in declaration order: tmc_stats is a plain array of uint64_t in disguise.
static_assert(sizeof(tmc_stats) == kStatCount * sizeof(uint64_t));

}  // namespace

const StatInfo& stat_info(StatId id) { return kStats[static_cast<int>(id)]; }

void stat_add(StatId id, uint64_t delta) {
  g_counters[static_cast<int>(id)].fetch_add(delta, std::memory_order_relaxed);
}

bool register_stats_source(StatsSource source) {
  for (auto& slot : g_sources) {
    StatsSource expected = nullptr;
    if (slot.compare_exchange_strong(expected, source)) return true;
    if (expected == source) return true;
  }
  return false;
}

uint64_t stat_field(const tmc_stats& s, StatId id) {
  uint64_t fields[kStatCount];
  memcpy(fields, &s, sizeof(fields));
  return fields[static_cast<int>(id)];
}

void stats_snapshot(tmc_stats* out) {
  uint64_t fields[kStatCount];
  for (int i = 0; i < kStatCount; ++i) fields[i] = g_counters[i].load(std::memory_order_relaxed);
  memcpy(out, fields, sizeof(fields));
  for (auto& slot : g_sources) {
    StatsSource source = slot.load(std::memory_order_acquire);
    if (source != nullptr) source(out);
  }
}

size_t format_stats_json(const tmc_stats& s, char* buf, size_t size) {
  size_t len = 0;
  auto put = [&](const char* text, size_t n) {
    if (len + n + 1 > size) return false;
    memcpy(buf + len, text, n);
    len += n;
    buf[len] = '\0';
    return true;
  };
  if (!put("{", 1)) return 0;
  for (int i = 0; i < kStatCount; ++i) {
    char num[24];
    size_t j = sizeof(num);
    uint64_t v = stat_field(s, static_cast<StatId>(i));
    do {
      num[--j] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    const char* name = kStats[i].name;
    if (!(put(i ? ", \"" : "\"", i ? 3 : 1) && put(name, strlen(name)) && put("\": ", 3) &&
          put(num + j, sizeof(num) - j)))
      return 0;
  }
  if (!put("}\n", 2)) return 0;
  return len;
}

}  // namespace tmc::control
