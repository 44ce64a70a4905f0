// Same-filled pages: a page that is one 8-byte word repeated (zero pages are the common
// case) is stored as that word alone, with no blob. The check runs on every evicted
// page before any compression, so it stops at the first word that differs; a page that
// really is same-filled costs one pass over 4 KiB.
#pragma once

#include <cstdint>

namespace tmc::codec {

// True if the kPageSize bytes at page are one 8-byte word repeated; *word receives it.
// page must be 8-byte aligned (pages always are).
bool is_same_filled(const void* page, uint64_t* word);

// Writes word repeated over kPageSize bytes at page (8-byte aligned).
void fill_page(void* page, uint64_t word);

}  // namespace tmc::codec
