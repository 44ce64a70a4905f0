// Key popularity: which key the next request is for. Three shapes:
//   uniform         every key equally often
//   zipf:S          the key of popularity rank k (from 1) is asked for in proportion to
//                   1/k^S (S > 0; 0.99 is the YCSB default), drawn by rejection-inversion
//                   (Hörmann and Derflinger 1996): O(1) per draw, no table, any key count
//   hotset:K:P      K% of the keys get P% of the requests, uniformly within each set
//   recent:K:S      "recent is hot": zipf:S over the K% of keys loaded last (the highest
//                   key numbers; --load writes keys in order), the other keys never asked
//                   for, as in caches and session stores where new entries are the ones read
// Ranks are spread over the key space (for recent:, over the recent keys) by a fixed
// permutation, so the popular keys are not the first ones loaded (they would share heap
// pages, which flatters a page-based compressor). Each connection owns a KeyDist; sampling
// is not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "rng.h"

namespace tmc::loadgen {

enum class DistKind { kUniform, kZipf, kHotSet, kRecent };

struct DistSpec {
  DistKind kind = DistKind::kUniform;
  double zipf_s = 0.99;     // kZipf, kRecent: the exponent
  double hot_keys = 0.1;    // kHotSet: share of the keys that are hot; kRecent: share of recent keys
  double hot_share = 0.9;   // kHotSet: share of the requests they get
  std::string text() const;  // as parsed: "zipf:0.99"
};

// parse_dist("zipf:0.99"): false (and *error says why) on a malformed spec.
bool parse_dist(std::string_view s, DistSpec* out, std::string* error);

// Rejection-inversion sampler of ranks 1..n with P(k) ~ 1/k^s.
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double s);
  uint64_t sample(Rng& rng) const;  // in [1, n]

 private:
  double h(double x) const;
  double h_integral(double x) const;
  double h_integral_inverse(double x) const;
  uint64_t n_;
  double s_;
  double h_integral_x1_;
  double h_integral_n_;
  double threshold_;
};

class KeyDist {
 public:
  KeyDist(const DistSpec& spec, uint64_t keys);
  // rank(): the popularity rank of the next request, 0 = most popular.
  uint64_t rank(Rng& rng) const;
  // key_of_rank(r): the key (0..keys-1) with popularity rank r (a bijection).
  // kRecent: ranks 0..hot_-1 only, onto the last hot_ keys.
  uint64_t key_of_rank(uint64_t r) const {
    return base_ + static_cast<uint64_t>((static_cast<unsigned __int128>(r) * stride_ + offset_) % span_);
  }
  uint64_t next(Rng& rng) const { return key_of_rank(rank(rng)); }
  uint64_t keys() const { return keys_; }

 private:
  DistSpec spec_;
  uint64_t keys_;
  uint64_t hot_;  // kHotSet: number of hot keys (ranks 0..hot_-1); kRecent: of recent keys
  // key_of_rank's permutation: of keys base_..base_+span_-1 (all keys, or kRecent's last hot_).
  uint64_t base_;
  uint64_t span_;
  uint64_t stride_;
  uint64_t offset_;
  ZipfSampler zipf_;
};

}  // namespace tmc::loadgen
