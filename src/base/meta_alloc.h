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

// In a forked child, before anything allocates: a thread of the parent may have been inside
// meta_alloc at the fork (a program thread creating a thread does), leaving the lock held
// and the chunk cursor half updated. The lock is freed and the chunk left (a new one is
// mapped at the next call; the rest of the old one is lost to this process).
void meta_alloc_after_fork_child();

}  // namespace tmc::base
