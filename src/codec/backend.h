// The compression backends behind PageCodec, one file each (lz4.cc, zstd.cc). Internal to
// src/codec: callers use codec.h. Every function works on one kPageSize page and on
// scratch memory the caller (PageCodec::init) mapped; none of them allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tmc::codec::detail {

// lz4 (LZ4_compress_fast_extState, acceleration 1; LZ4_decompress_safe).
size_t lz4_workspace_size();
// Prepares the state in workspace; returns it, or nullptr.
void* lz4_init(void* workspace, size_t size);
// Returns the blob size, or 0 if the blob would not fit in capacity.
uint32_t lz4_compress(void* state, const void* page, void* out, uint32_t capacity);
// True if blob decodes to exactly one page.
bool lz4_decompress(const void* blob, uint32_t size, void* page_out);

// zstd (static contexts sized for one 4 KiB input at `level`; magic-less frames).
struct ZstdContexts {
  void* cctx;
  void* dctx;
};
// Bytes needed for both contexts at `level` (0 if the level is out of range).
size_t zstd_workspace_size(int level);
// The largest blob zstd may make of a page. zstd needs a few bytes of room beyond the
// blob it makes (up to 9 measured), so compress with this capacity and compare after.
size_t zstd_bound();
bool zstd_init(void* workspace, size_t size, int level, ZstdContexts* out);
uint32_t zstd_compress(void* cctx, const void* page, void* out, uint32_t capacity);
bool zstd_decompress(void* dctx, const void* blob, uint32_t size, void* page_out);

}  // namespace tmc::codec::detail
