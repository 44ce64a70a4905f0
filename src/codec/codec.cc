// See codec.h. The dispatch between backends is a switch on the kind chosen at init():
// encode() and decode() run per page, so there is no virtual call and no allocation.
#include "codec/codec.h"

#include <xxhash.h>

#include <sys/mman.h>

#include <cstring>

#include "base/compiler.h"
#include "base/log.h"
#include "codec/backend.h"
#include "codec/dictionary.h"
#include "codec/same_filled.h"
#include "platform/mm.h"


namespace tmc::codec {

uint64_t page_hash(const void* page, uint64_t seed) { return XXH3_64bits_withSeed(page, kPageSize, seed); }

namespace {
size_t round_to_pages(size_t n) { return (n + kPageSize - 1) & ~(kPageSize - 1); }

// name_ without stdio: "lz4" or "zstd-<level>".
void set_name(char* out, size_t size, const char* base, int level) {
  size_t n = strlen(base);
  memcpy(out, base, n + 1);
  if (level <= 0 || n + 5 > size) return;
  char digits[4];
  int d = 0;
  for (int v = level; v > 0 && d < 4; v /= 10) digits[d++] = static_cast<char>('0' + v % 10);
  out[n++] = '-';
  while (d > 0) out[n++] = digits[--d];
  out[n] = '\0';
}

// A page that compresses somewhat, as a self-test of a fresh codec.
void make_probe_page(unsigned char* page) {
  for (size_t i = 0; i < kPageSize; ++i)
    page[i] = static_cast<unsigned char>("tmc probe "[i % 10] + (i / 97) % 7);
}
}  // namespace

PageCodec::~PageCodec() { release_workspace(); }

void PageCodec::release_workspace() {
  if (workspace_ != nullptr) munmap(workspace_, workspace_size_);
  workspace_ = nullptr;
  workspace_size_ = 0;
  cctx_ = nullptr;
  dctx_ = nullptr;
  scratch_ = nullptr;
  set_name(name_, sizeof(name_), "none", 0);
}

bool PageCodec::init(CodecKind kind, int zstd_level, size_t dict_bytes) {
  release_workspace();
  size_t need = kind == CodecKind::kLz4 ? detail::lz4_workspace_size()
                                        : detail::zstd_workspace_size(zstd_level, dict_bytes);
  size_t contexts = need;
  if (kind == CodecKind::kZstd && need != 0) need += detail::zstd_bound();
  if (need == 0) {
    log::warn().str("codec: zstd level ").i64(zstd_level).str(" is out of range").flush();
    return false;
  }
  size_t size = round_to_pages(need);
  void* ws = platform::map_anonymous(size, "tmc-codec");
  if (ws == nullptr) {
    log::warn().str("codec: cannot map ").u64(size).str(" bytes of scratch memory").flush();
    return false;
  }
  bool ok;
  if (kind == CodecKind::kLz4) {
    cctx_ = detail::lz4_init(ws, size);
    ok = cctx_ != nullptr;
  } else {
    detail::ZstdContexts ctx{};
    ok = detail::zstd_init(ws, contexts, zstd_level, dict_bytes, &ctx);
    cctx_ = ctx.cctx;
    dctx_ = ctx.dctx;
    scratch_ = static_cast<char*>(ws) + contexts;
  }
  workspace_ = ws;
  workspace_size_ = size;
  kind_ = kind;
  level_ = kind == CodecKind::kZstd ? zstd_level : 0;
  if (!ok) {
    log::warn().str("codec: cannot set up ").str(kind == CodecKind::kLz4 ? "lz4" : "zstd").flush();
    release_workspace();
    return false;
  }
  // A round trip now rather than a surprise on the first evicted page: a static zstd
  // context that turned out too small would fail here.
  if (!self_test(nullptr)) {
    log::warn().str("codec: self-test failed: ").str(kind == CodecKind::kLz4 ? "lz4" : "zstd")
        .flush();
    release_workspace();
    return false;
  }
  set_name(name_, sizeof(name_), kind == CodecKind::kLz4 ? "lz4" : "zstd", level_);
  return true;
}

bool PageCodec::self_test(const Dictionary* dict) {
  alignas(64) unsigned char probe[kPageSize];
  alignas(64) unsigned char blob[kPageSize];
  alignas(64) unsigned char back[kPageSize];
  make_probe_page(probe);
  Encoded e = encode(probe, blob, sizeof(blob), kPageSize, dict);
  return e.kind == Encoded::Kind::kCompressed && e.with_dict == (dict != nullptr) &&
         decode(blob, e.size, back, dict) && memcmp(probe, back, kPageSize) == 0;
}

Encoded PageCodec::encode(const void* page, void* out, size_t out_capacity, size_t max_blob,
                          const Dictionary* dict) {
  uint64_t word;
  if (is_same_filled(page, &word)) return {Encoded::Kind::kSameFilled, word, 0, false};
  // A dictionary of another codec, or not sealed yet, is not used.
  if (dict != nullptr && (!dict->sealed() || dict->kind() != kind_)) dict = nullptr;
  size_t cap = out_capacity < max_blob ? out_capacity : max_blob;
  if (cap > UINT32_MAX) cap = UINT32_MAX;
  uint32_t n = 0;
  if (TMC_UNLIKELY(workspace_ == nullptr || cap == 0)) {
    // Not initialised, or no room at all.
  } else if (kind_ == CodecKind::kLz4) {
    // lz4 stops as soon as the output would overflow cap, and fits exactly cap bytes.
    n = detail::lz4_compress(cctx_, dict != nullptr ? dict->lz4_stream() : nullptr, page, out,
                             static_cast<uint32_t>(cap));
  } else {
    // zstd gives up a few bytes short of its capacity: let it have the full bound, in out
    // if out is that large, then hold the blob to cap.
    const size_t bound = detail::zstd_bound();
    // A dictionary whose compression tables are dropped compresses as none.
    const void* cdict = dict != nullptr ? dict->zstd_cdict() : nullptr;
    if (cdict == nullptr) dict = nullptr;
    if (out_capacity >= bound) {
      n = detail::zstd_compress(cctx_, cdict, page, out, static_cast<uint32_t>(bound));
    } else {
      n = detail::zstd_compress(cctx_, cdict, page, scratch_, static_cast<uint32_t>(bound));
      if (n != 0 && n <= cap) memcpy(out, scratch_, n);
    }
    if (n > cap) n = 0;
  }
  if (n == 0) return {Encoded::Kind::kIncompressible, 0, 0, false};
  return {Encoded::Kind::kCompressed, 0, n, dict != nullptr};
}

bool PageCodec::decode(const void* blob, uint32_t size, void* page_out, const Dictionary* dict) {
  if (TMC_UNLIKELY(workspace_ == nullptr || blob == nullptr)) return false;
  if (dict != nullptr && (!dict->sealed() || dict->kind() != kind_)) return false;
  // The blob of an evicted page is usually cold: ask for all its lines at once rather than
  // one miss at a time as the decoder walks it (0.5 µs of the 2 µs a cold lz4 blob costs
  // over a cached one, bench_fault's cold/decompress).
  const uintptr_t first_line = reinterpret_cast<uintptr_t>(blob) & ~uintptr_t{63};
  for (uintptr_t line = first_line; line < reinterpret_cast<uintptr_t>(blob) + size; line += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 3);
  if (kind_ == CodecKind::kLz4) {
    return dict == nullptr ? detail::lz4_decompress(blob, size, page_out, nullptr, 0)
                           : detail::lz4_decompress(blob, size, page_out, dict->content(), dict->content_size());
  }
  return detail::zstd_decompress(dctx_, dict != nullptr ? dict->zstd_ddict() : nullptr, blob, size, page_out);
}

void PageCodec::fill(void* page, uint64_t word) { fill_page(page, word); }

}  // namespace tmc::codec
