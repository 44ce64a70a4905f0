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
// Returns the blob size, or 0 if the blob would not fit in capacity. dict_stream: a stream
// made by lz4_load_dict(), or nullptr for none.
uint32_t lz4_compress(void* state, const void* dict_stream, const void* page, void* out, uint32_t capacity);
// True if blob decodes to exactly one page. dict/dict_size: the dictionary's content the
// blob was made with (nullptr, 0 for none).
bool lz4_decompress(const void* blob, uint32_t size, void* page_out, const void* dict, size_t dict_size);
// A dictionary stream over content (which must stay in place), built in workspace.
size_t lz4_dict_stream_size();
const void* lz4_load_dict(void* workspace, size_t size, const void* content, size_t content_size);

// zstd (static contexts sized for one 4 KiB input at `level` with a dictionary of up to
// dict_bytes, Dictionary::kZstdBytes when 0; magic-less frames).
struct ZstdContexts {
  void* cctx;
  void* dctx;
};
// Bytes needed for both contexts at `level` (0 if the level is out of range).
size_t zstd_workspace_size(int level, size_t dict_bytes);
// The largest blob zstd may make of a page. zstd needs a few bytes of room beyond the
// blob it makes (up to 9 measured), so compress with this capacity and compare after.
size_t zstd_bound();
bool zstd_init(void* workspace, size_t size, int level, size_t dict_bytes, ZstdContexts* out);
// cdict / ddict: a dictionary's (zstd_build_dicts), or nullptr for none.
uint32_t zstd_compress(void* cctx, const void* cdict, const void* page, void* out, uint32_t capacity);
bool zstd_decompress(void* dctx, const void* ddict, const void* blob, uint32_t size, void* page_out);
// Raw-content dictionaries over content (which must stay in place), for compression at
// `level` and for decompression, built in workspace (zstd_dicts_size bytes): the CDict
// first (zstd_cdict_size bytes of it), then the DDict.
size_t zstd_dicts_size(int level, size_t content_size);
size_t zstd_cdict_size(int level, size_t content_size);
bool zstd_build_dicts(void* workspace, size_t size, int level, const void* content, size_t content_size,
                      const void** cdict, const void** ddict);
// The CDict alone, again, in the first zstd_cdict_size bytes of the same workspace.
const void* zstd_build_cdict(void* workspace, int level, const void* content, size_t content_size);

}  // namespace tmc::codec::detail
