// Library constructor and destructor, and the public tmc_* API. Everything they do lives
// in src/runtime; this file only connects the dynamic loader to it.
#include "base/compiler.h"
#include "control/stats.h"
#include "heap/extent_hooks.h"
#include "runtime/runtime.h"
#include "tmc/tmc.h"

namespace {

[[gnu::constructor]] void tmc_on_load() { tmc::runtime::on_library_load(); }
[[gnu::destructor]] void tmc_on_unload() { tmc::runtime::on_library_unload(); }

}  // namespace

extern "C" {

TMC_EXPORT const char* tmc_version(void) { return TMC_VERSION_STRING; }

TMC_EXPORT int tmc_is_active(void) { return tmc::runtime::is_active() ? 1 : 0; }

TMC_EXPORT int tmc_is_managed(const void* p) {
  const tmc::heap::RegionSet* regions = tmc::heap::managed_regions();
  return regions != nullptr && tmc::runtime::is_active() && regions->contains(p) ? 1 : 0;
}

TMC_EXPORT int tmc_stats_get(struct tmc_stats* out) {
  if (out == nullptr) return -1;
  tmc::runtime::ensure_ready();
  tmc::control::stats_snapshot(out);
  return 0;
}

}  // extern "C"
