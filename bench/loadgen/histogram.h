// Latency histogram with log-linear buckets, like HdrHistogram with 2 significant digits:
// values below 128 ns have a bucket each; above, every power of two is cut into 64 equal
// buckets, so a bucket is at most 1/64 (1.6%) wide relative to its values. Fixed size
// (about 3,000 counters up to 2^43 ns = 2.4 hours), no allocation per sample, and
// histograms of several threads add up exactly. Values are nanoseconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tmc::loadgen {

class Histogram {
 public:
  static constexpr int kLinearBits = 7;  // 128 exact buckets at the bottom
  static constexpr int kSubBits = 6;     // 64 buckets per power of two above
  static constexpr int kMaxBits = 43;
  static constexpr size_t kBuckets = (1u << kLinearBits) + (kMaxBits - kLinearBits + 1) * (1u << kSubBits);

  Histogram() : counts_(kBuckets, 0) {}

  void record(uint64_t v) {
    ++counts_[index_of(v)];
    ++total_;
    sum_ += v;
    if (v > max_) max_ = v;
    if (v < min_) min_ = v;
  }
  void merge(const Histogram& o);

  uint64_t count() const { return total_; }
  uint64_t max() const { return total_ ? max_ : 0; }
  uint64_t min() const { return total_ ? min_ : 0; }
  double mean() const { return total_ ? static_cast<double>(sum_) / static_cast<double>(total_) : 0; }
  // percentile(q), q in [0, 1]: the highest value of the bucket holding the q-th sample
  // (capped at the largest sample seen), as HdrHistogram reports it.
  uint64_t percentile(double q) const;
  // cdf(points): about `points` (value, fraction of samples <= value) pairs, spaced evenly
  // in log(1 - fraction) so the tail (p99.9, p99.99) has as many points as the body.
  std::vector<std::pair<uint64_t, double>> cdf(int points) const;

  static size_t index_of(uint64_t v);
  static uint64_t bucket_low(size_t i);
  static uint64_t bucket_high(size_t i);  // inclusive

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

}  // namespace tmc::loadgen
