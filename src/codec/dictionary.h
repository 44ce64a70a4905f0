// A compression dictionary made of the process's own pages. A 4 KiB page alone gives a
// codec little history to find matches in: JSON keys, field names and common words recur
// across pages, not within one. Handing the codec a few dozen earlier pages as "history"
// (lz4: a dictionary stream, zstd: a raw-content dictionary, no training, so no malloc)
// raised the per-page ratio on Redis heap pages from 1.66 to 2.04 with lz4 and from 2.30
// to 2.84 with zstd -1 (bench/results/dictionary.md).
//
// Life cycle: init() maps the memory; the reclaimer add_sample()s pages it has compressed
// until full(); seal() builds the codec's structures over the samples and makes the whole
// mapping read-only. From then on the dictionary never changes, so every blob made with it
// stays decodable for the life of the process (and of its forked children, which inherit
// the mapping), and any number of threads may use it at once without a lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "codec/codec.h"

namespace tmc::codec {

class Dictionary {
 public:
  static constexpr size_t kLz4Bytes = size_t{64} << 10;    // lz4's whole match window
  static constexpr size_t kZstdBytes = size_t{128} << 10;  // past ~128 KiB the gain flattens
  static constexpr size_t bytes_for(CodecKind kind) { return kind == CodecKind::kLz4 ? kLz4Bytes : kZstdBytes; }

  Dictionary() = default;
  Dictionary(const Dictionary&) = delete;
  Dictionary& operator=(const Dictionary&) = delete;
  // The mapping is never unmapped: blobs may refer to the dictionary until the process ends.

  // Maps room for the samples (content_bytes, a multiple of the page size; bytes_for(kind)
  // when 0) and for the codec's structures (zstd: at `zstd_level`). Returns false (and
  // logs why) if memory is short or the level is out of range.
  bool init(CodecKind kind, int zstd_level, size_t content_bytes = 0);
  // Appends one page; returns true once the content is full. Ignored after seal().
  bool add_sample(const void* page);
  // Drops the samples taken so far (before seal()), to take them again.
  void discard_samples() {
    if (!sealed_) used_ = 0;
  }
  bool full() const { return used_ == content_size_ && content_size_ != 0; }
  // Builds the codec's structures over the content and makes the mapping read-only. Returns
  // false (logged) if the codec refuses; the dictionary is then unusable.
  bool seal();
  bool sealed() const { return sealed_; }

  CodecKind kind() const { return kind_; }
  const void* content() const { return content_; }
  size_t content_size() const { return used_; }
  // lz4: a loaded LZ4_stream_t; zstd: ZSTD_CDict* / ZSTD_DDict*. Valid once sealed.
  const void* lz4_stream() const { return lz4_stream_; }
  const void* zstd_cdict() const { return zstd_cdict_; }
  const void* zstd_ddict() const { return zstd_ddict_; }
  // Memory mapped for the dictionary (content and structures).
  size_t memory_bytes() const { return mapping_size_; }
  // That memory less the compression tables while they are dropped.
  // Safe on any thread (the stats read it while the reclaimer drops or rebuilds).
  size_t resident_bytes() const { return mapping_size_ - dropped_bytes_.load(std::memory_order_relaxed); }

  // zstd, sealed: the compression tables (nearly all of the structures' memory at higher
  // levels: 4 MiB of 4.5 for 512 KiB at level 6, 16 of 16.5 at level 9) go back to the
  // kernel while nothing is to be compressed with the dictionary (reclaim/deep.h), and are
  // built again from the content, identical, when something is. Decoding never uses them.
  // Only the thread that compresses with the dictionary may call these; zstd_cdict() is
  // nullptr while they are dropped (encode() then compresses without the dictionary).
  void drop_compression_tables();
  bool restore_compression_tables();
  bool compression_tables_dropped() const { return cdict_dropped_; }

 private:
  CodecKind kind_ = CodecKind::kLz4;
  int level_ = 0;
  char* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  char* content_ = nullptr;
  size_t content_size_ = 0;
  size_t used_ = 0;
  char* structures_ = nullptr;  // after the content
  size_t structures_size_ = 0;
  const void* lz4_stream_ = nullptr;
  const void* zstd_cdict_ = nullptr;
  const void* zstd_ddict_ = nullptr;
  bool sealed_ = false;
  bool cdict_dropped_ = false;
  std::atomic<size_t> dropped_bytes_{0};  // whole pages of the CDict given back while dropped
};

}  // namespace tmc::codec
