// The reply to the control command "sites": the profile as text lines, one per site, the
// largest first (format in include/tmc/ctl_protocol.h). Runs on the background thread; the
// lock is held only while the tables are copied.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sites/snapshot.h"

namespace tmc::sites {

struct ReportInputs {
  EvictedBytesFn evicted_bytes = nullptr;
  uint64_t heap_bytes = 0;  // jemalloc's allocated bytes, for the totals
  size_t max_sites = 200;   // sites listed one by one; the rest are summed on one line
};

size_t format_report(const ReportInputs& in, char* out, size_t size);

}  // namespace tmc::sites
