// The lz4 backend: the fast one, about 5 µs to compress and 1.4 µs to decompress a heap
// page on this machine class. LZ4_compress_fast_extState keeps its hash table in memory
// we mapped (no malloc); LZ4_decompress_safe never reads or writes out of bounds, whatever
// the input.
#include <lz4.h>

#include "codec/backend.h"
#include "codec/codec.h"

namespace tmc::codec::detail {

size_t lz4_workspace_size() { return static_cast<size_t>(LZ4_sizeofState()); }

void* lz4_init(void* workspace, size_t size) {
  if (size < lz4_workspace_size()) return nullptr;
  return workspace;  // page-aligned; extState initialises it on every call
}

uint32_t lz4_compress(void* state, const void* page, void* out, uint32_t capacity) {
  int n = LZ4_compress_fast_extState(state, static_cast<const char*>(page), static_cast<char*>(out),
                                     static_cast<int>(kPageSize), static_cast<int>(capacity),
                                     /*acceleration=*/1);
  return n > 0 ? static_cast<uint32_t>(n) : 0;
}

bool lz4_decompress(const void* blob, uint32_t size, void* page_out) {
  if (size == 0 || size > static_cast<uint32_t>(LZ4_compressBound(kPageSize))) return false;
  int n = LZ4_decompress_safe(static_cast<const char*>(blob), static_cast<char*>(page_out),
                              static_cast<int>(size), static_cast<int>(kPageSize));
  return n == static_cast<int>(kPageSize);
}

}  // namespace tmc::codec::detail
