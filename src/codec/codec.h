// One 4 KiB page to a few bytes and back: the codec the reclaimer runs on every page it
// evicts and the fault path runs on every page it brings back.
//
// encode() first checks whether the page is one 8-byte word repeated (zero pages included):
// such a page needs no blob at all, only the word. Otherwise it compresses with the
// backend chosen at init() (lz4 or zstd, each in its own file), and reports the page as
// incompressible when the blob would not save enough (the caller's max_blob), so the
// caller can leave it resident.
//
// A PageCodec belongs to one thread and is never shared. Its scratch memory (lz4's state,
// zstd's static contexts) is mapped once by init() straight from the kernel; encode() and
// decode() never allocate, never call malloc and never block, so they are safe on the
// fault path (design invariant 4). decode() accepts any bytes: a corrupt or truncated
// blob is rejected with false, never a crash and never a partial page the caller could
// mistake for data.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tmc::codec {

inline constexpr size_t kPageSize = 4096;

enum class CodecKind : uint8_t { kLz4, kZstd };

class Dictionary;  // dictionary.h

// What encode() made of a page.
struct Encoded {
  enum class Kind : uint8_t {
    kSameFilled,      // the page is fill_word repeated; nothing was written to out
    kCompressed,      // out holds a blob of `size` bytes, size <= max_blob
    kIncompressible,  // the blob would exceed max_blob (or out_capacity); out is garbage
  };
  Kind kind;
  uint64_t fill_word;  // kSameFilled only
  uint32_t size;       // kCompressed only (0 otherwise)
  bool with_dict;      // kCompressed only: made with the dictionary passed to encode()
};

// A 64-bit hash of one page's bytes (XXH3 with a seed: the engine's per-process seed, so
// that no one can aim collisions at it), for end-to-end checks of evicted pages
// (TMC_VERIFY) and as the key of pool dedup: about 0.2 us a page.
uint64_t page_hash(const void* page, uint64_t seed);

class PageCodec {
 public:
  PageCodec() = default;
  ~PageCodec();
  PageCodec(const PageCodec&) = delete;
  PageCodec& operator=(const PageCodec&) = delete;

  // Maps the scratch memory and sets the backend up. zstd_level and dict_bytes are used by
  // kZstd only (1..ZSTD_maxCLevel(); the contexts are sized for 4 KiB inputs at that level
  // after a dictionary of up to dict_bytes, Dictionary::kZstdBytes when 0).
  // Returns false (and logs why) if memory or the backend is unavailable; the codec is
  // then unusable. Calling init() again re-initialises.
  bool init(CodecKind kind, int zstd_level = 1, size_t dict_bytes = 0);

  // Turns one page (kPageSize bytes) into a same-filled word, a blob written to out, or
  // a verdict that it does not compress to max_blob bytes. The blob is never larger than
  // min(out_capacity, max_blob), and any blob up to that size is accepted; pass
  // max_blob = kPageSize * 3 / 4 to demand 25% saving. All out_capacity bytes of out may
  // be written, whatever the result (2 * kPageSize is always enough room).
  // dict: a sealed dictionary of this codec's kind to compress with, or nullptr; the blob
  // then decodes only with the same dictionary (Encoded::with_dict says which was used).
  Encoded encode(const void* page, void* out, size_t out_capacity, size_t max_blob,
                 const Dictionary* dict = nullptr);

  // Writes exactly kPageSize bytes to page_out from a blob made by encode() of a codec
  // of the same kind (any level), with the dictionary it was made with (or nullptr).
  // Returns false if the blob is corrupt or does not decode to exactly one page;
  // page_out's contents are then unspecified.
  bool decode(const void* blob, uint32_t size, void* page_out, const Dictionary* dict = nullptr);

  // A round trip of a probe page (with dict, if given); false if it does not come back
  // equal. init() runs it without a dictionary; run it once with a new dictionary.
  bool self_test(const Dictionary* dict);

  // Writes `word` repeated over one page (the inverse of a kSameFilled result).
  static void fill(void* page, uint64_t word);

  // "lz4", "zstd-1", "zstd-3", ... ("none" before init()).
  const char* name() const { return name_; }
  CodecKind kind() const { return kind_; }
  bool ready() const { return workspace_ != nullptr; }
  // Scratch memory held (mapped by init()).
  size_t memory_bytes() const { return workspace_size_; }

 private:
  void release_workspace();

  CodecKind kind_ = CodecKind::kLz4;
  int level_ = 0;
  void* workspace_ = nullptr;  // one mapping: lz4 state, or zstd's CCtx, DCtx and scratch
  size_t workspace_size_ = 0;
  void* cctx_ = nullptr;     // lz4: the state; zstd: ZSTD_CCtx*
  void* dctx_ = nullptr;     // zstd: ZSTD_DCtx*
  void* scratch_ = nullptr;  // zstd: room for a blob when out is smaller than zstd_bound()
  char name_[16] = "none";
};

}  // namespace tmc::codec
