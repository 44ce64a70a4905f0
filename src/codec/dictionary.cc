// See dictionary.h.
#include "codec/dictionary.h"

#include <sys/mman.h>

#include <cstring>

#include "base/log.h"
#include "codec/backend.h"
#include "platform/mm.h"


namespace tmc::codec {
namespace {
size_t round_to_pages(size_t n) { return (n + kPageSize - 1) & ~(kPageSize - 1); }
}  // namespace

bool Dictionary::init(CodecKind kind, int zstd_level, size_t content_bytes) {
  if (mapping_ != nullptr) return false;  // a dictionary is made once
  kind_ = kind;
  level_ = zstd_level;
  content_size_ = content_bytes != 0 ? round_to_pages(content_bytes) : bytes_for(kind);
  structures_size_ = round_to_pages(kind == CodecKind::kLz4 ? detail::lz4_dict_stream_size()
                                                            : detail::zstd_dicts_size(zstd_level, content_size_));
  if (structures_size_ == 0) {
    log::warn().str("codec: no dictionary for zstd level ").i64(zstd_level).flush();
    return false;
  }
  size_t size = content_size_ + structures_size_;
  void* p = platform::map_anonymous(size, "tmc-dict");
  if (p == nullptr) {
    log::warn().str("codec: cannot map ").u64(size).str(" bytes for a dictionary").flush();
    return false;
  }
  mapping_ = static_cast<char*>(p);
  mapping_size_ = size;
  content_ = mapping_;
  structures_ = mapping_ + content_size_;
  return true;
}

bool Dictionary::add_sample(const void* page) {
  if (sealed_ || mapping_ == nullptr) return full();
  if (used_ < content_size_) {
    memcpy(content_ + used_, page, kPageSize);
    used_ += kPageSize;
  }
  return full();
}

bool Dictionary::seal() {
  if (sealed_ || mapping_ == nullptr || used_ == 0) return sealed_;
  bool ok;
  if (kind_ == CodecKind::kLz4) {
    lz4_stream_ = detail::lz4_load_dict(structures_, structures_size_, content_, used_);
    ok = lz4_stream_ != nullptr;
  } else {
    ok = detail::zstd_build_dicts(structures_, structures_size_, level_, content_, used_, &zstd_cdict_, &zstd_ddict_);
  }
  if (!ok) {
    log::warn().str("codec: cannot build a dictionary; pages are compressed without one").flush();
    return false;
  }
  // Nothing may change a dictionary that blobs depend on: a stray write now faults.
  mprotect(mapping_, mapping_size_, PROT_READ);
  sealed_ = true;
  return true;
}

void Dictionary::drop_compression_tables() {
  if (!sealed_ || kind_ != CodecKind::kZstd || cdict_dropped_) return;
  // The CDict comes first in the structures, which start on a page: its whole pages go.
  const size_t pages = detail::zstd_cdict_size(level_, used_) & ~(kPageSize - 1);
  if (pages == 0 || madvise(structures_, pages, MADV_DONTNEED) != 0) return;
  zstd_cdict_ = nullptr;
  dropped_bytes_.store(pages, std::memory_order_relaxed);
  cdict_dropped_ = true;
}

bool Dictionary::restore_compression_tables() {
  if (!cdict_dropped_) return zstd_cdict_ != nullptr;
  // Writable for the rebuild only. The last page may hold the start of the DDict, which the
  // fault thread reads meanwhile: the rebuild writes the CDict's bytes alone.
  const size_t span = round_to_pages(detail::zstd_cdict_size(level_, used_));
  if (mprotect(structures_, span, PROT_READ | PROT_WRITE) != 0) return false;
  const void* c = detail::zstd_build_cdict(structures_, level_, content_, used_);
  mprotect(structures_, span, PROT_READ);
  if (c == nullptr) return false;
  zstd_cdict_ = c;
  cdict_dropped_ = false;
  dropped_bytes_.store(0, std::memory_order_relaxed);
  return true;
}

}  // namespace tmc::codec
