#include "tmc_view.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tmc/tmc.h"

namespace acc {
namespace {

const StatField kFields[] = {
#define TMC_STAT(name, unit, doc) {#name, unit},
#include "tmc/stats.def"
#undef TMC_STAT
};

const size_t kOffsets[] = {
#define TMC_STAT(name, unit, doc) offsetof(tmc_stats, name),
#include "tmc/stats.def"
#undef TMC_STAT
};

constexpr size_t kCount = sizeof(kFields) / sizeof(kFields[0]);
static_assert(kCount <= StatsSnapshot::kMaxFields, "raise StatsSnapshot::kMaxFields");

}  // namespace

const StatField* stat_fields() { return kFields; }
size_t stat_field_count() { return kCount; }

std::optional<uint64_t> StatsSnapshot::get(const char* name) const {
  for (size_t i = 0; i < kCount; ++i)
    if (strcmp(kFields[i].name, name) == 0) return values[i];
  return std::nullopt;
}

bool TmcView::load() {
  stats_get_ = reinterpret_cast<int (*)(void*)>(dlsym(RTLD_DEFAULT, "tmc_stats_get"));
  is_active_ = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "tmc_is_active"));
  return stats_get_ != nullptr;
}

bool TmcView::active() const { return is_active_ != nullptr && is_active_() != 0; }

StatsSnapshot TmcView::snapshot() const {
  // Room past struct tmc_stats as compiled here: a libtmc.so built from a newer stats.def
  // (more fields) than this binary writes them there instead of over the stack.
  union {
    tmc_stats s;
    unsigned char room[sizeof(tmc_stats) + 4096];
  } buf;
  memset(&buf, 0, sizeof(buf));
  if (stats_get_(&buf.s) != 0) {
    fprintf(stderr, "bench_hotset: tmc_stats_get failed\n");
    exit(2);
  }
  StatsSnapshot snap;
  const auto* base = reinterpret_cast<const unsigned char*>(&buf.s);
  for (size_t i = 0; i < kCount; ++i) memcpy(&snap.values[i], base + kOffsets[i], sizeof(uint64_t));
  return snap;
}

}  // namespace acc
