// The zstd backend: denser than lz4 (per-page ratio 2.30 against 1.66 on Redis heap pages
// at level 1, 2.84 against 2.04 with a dictionary) for about three times lz4's compression
// time. Both contexts are "static":
// zstd builds them inside memory we mapped, sized for a 4 KiB input at the chosen level,
// and never allocates afterwards. Frames are written without the 4-byte magic number
// (the pool knows what it stores) and with the content size, so a frame of any other
// length is rejected by the decoder itself.
#define ZSTD_STATIC_LINKING_ONLY  // static contexts, magic-less format
#include <zstd.h>

#include "codec/backend.h"
#include "codec/codec.h"
#include "codec/dictionary.h"

namespace tmc::codec::detail {
namespace {
constexpr size_t kAlign = 64;

size_t round_up(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

// Parameters for one page after a dictionary of dict_size bytes (0: none). The context is
// sized for the largest dictionary, which needs the larger window and tables.
ZSTD_compressionParameters params(int level, size_t dict_size) {
  return ZSTD_getCParams(level, kPageSize, dict_size);
}

size_t cctx_size(int level, size_t dict_bytes) {
  return round_up(ZSTD_estimateCCtxSize_usingCParams(params(level, dict_bytes != 0 ? dict_bytes : Dictionary::kZstdBytes)));
}
size_t dctx_size() { return round_up(ZSTD_estimateDCtxSize()); }
}  // namespace

size_t zstd_workspace_size(int level, size_t dict_bytes) {
  if (level < 1 || level > ZSTD_maxCLevel()) return 0;
  return cctx_size(level, dict_bytes) + dctx_size();
}

size_t zstd_bound() { return ZSTD_COMPRESSBOUND(kPageSize); }

bool zstd_init(void* workspace, size_t size, int level, size_t dict_bytes, ZstdContexts* out) {
  size_t csize = cctx_size(level, dict_bytes);
  if (size < csize + dctx_size()) return false;
  char* base = static_cast<char*>(workspace);
  ZSTD_CCtx* cctx = ZSTD_initStaticCCtx(base, csize);
  ZSTD_DCtx* dctx = ZSTD_initStaticDCtx(base + csize, size - csize);
  if (cctx == nullptr || dctx == nullptr) return false;
  if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)) ||
      ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless)))
    return false;
  out->cctx = cctx;
  out->dctx = dctx;
  return true;
}

uint32_t zstd_compress(void* cctx, const void* cdict, const void* page, void* out, uint32_t capacity) {
  auto* ctx = static_cast<ZSTD_CCtx*>(cctx);
  // Referencing (or clearing) a dictionary only sets a pointer. ZSTD_compress_usingCDict
  // would reset the frame parameters (magic-less format) to their defaults; compress2
  // keeps those set on the context.
  if (ZSTD_isError(ZSTD_CCtx_refCDict(ctx, static_cast<const ZSTD_CDict*>(cdict)))) return 0;
  // One call with the whole input: zstd knows the source size, picks parameters for 4 KiB
  // and compresses straight into out without internal buffers.
  size_t n = ZSTD_compress2(ctx, out, capacity, page, kPageSize);
  // dstSize_tooSmall is the expected "does not fit"; any other error (which a correctly
  // sized static context cannot produce) is reported the same way: keep the page.
  return ZSTD_isError(n) ? 0 : static_cast<uint32_t>(n);
}

bool zstd_decompress(void* dctx, const void* ddict, const void* blob, uint32_t size, void* page_out) {
  if (size == 0) return false;
  auto* ctx = static_cast<ZSTD_DCtx*>(dctx);
  size_t n = ddict == nullptr
                 ? ZSTD_decompressDCtx(ctx, page_out, kPageSize, blob, size)
                 : ZSTD_decompress_usingDDict(ctx, page_out, kPageSize, blob, size,
                                              static_cast<const ZSTD_DDict*>(ddict));
  return !ZSTD_isError(n) && n == kPageSize;
}

size_t zstd_cdict_size(int level, size_t content_size) {
  if (level < 1 || level > ZSTD_maxCLevel()) return 0;
  return round_up(ZSTD_estimateCDictSize_advanced(content_size, params(level, content_size), ZSTD_dlm_byRef));
}

size_t zstd_dicts_size(int level, size_t content_size) {
  const size_t csize = zstd_cdict_size(level, content_size);
  if (csize == 0) return 0;
  return csize + round_up(ZSTD_estimateDDictSize(content_size, ZSTD_dlm_byRef));
}

const void* zstd_build_cdict(void* workspace, int level, const void* content, size_t content_size) {
  // byRef: the dictionaries point into content, which the Dictionary keeps in place.
  return ZSTD_initStaticCDict(workspace, zstd_cdict_size(level, content_size), content, content_size, ZSTD_dlm_byRef,
                              ZSTD_dct_rawContent, params(level, content_size));
}

bool zstd_build_dicts(void* workspace, size_t size, int level, const void* content, size_t content_size,
                      const void** cdict, const void** ddict) {
  const size_t csize = zstd_cdict_size(level, content_size);
  if (csize == 0 || size < csize) return false;
  const void* c = zstd_build_cdict(workspace, level, content, content_size);
  const ZSTD_DDict* d = ZSTD_initStaticDDict(static_cast<char*>(workspace) + csize, size - csize, content,
                                             content_size, ZSTD_dlm_byRef, ZSTD_dct_rawContent);
  if (c == nullptr || d == nullptr) return false;
  *cdict = c;
  *ddict = d;
  return true;
}

}  // namespace tmc::codec::detail
