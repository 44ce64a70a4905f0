// Memory for libtmc's own bookkeeping. It comes straight from mmap, never from malloc and
// never from the managed heap, so libtmc's metadata is never evicted and using it can
// never recurse into the allocator (design invariant 4).
//
// Blocks are never returned: callers that churn objects keep their own free lists.
#pragma once

#include <cstddef>

namespace tmc::base {

// Returns zeroed memory of `size` bytes aligned to 64, or nullptr if mmap fails.
void* meta_alloc(size_t size);

// Bytes obtained from the kernel so far (a stat).
size_t meta_mapped_bytes();

}  // namespace tmc::base
