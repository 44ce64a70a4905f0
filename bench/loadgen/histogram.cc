// Log-linear latency histogram (histogram.h).
#include "histogram.h"

#include <algorithm>
#include <cmath>

namespace tmc::loadgen {

// Bucket layout: [0, 128) one bucket per value; then for each exponent e >= 7 (values in
// [2^e, 2^(e+1))) 64 buckets of width 2^(e-6).
size_t Histogram::index_of(uint64_t v) {
  constexpr uint64_t kLinear = 1u << kLinearBits;
  if (v < kLinear) return static_cast<size_t>(v);
  int e = 63 - __builtin_clzll(v);
  if (e > kMaxBits) return kBuckets - 1;  // clamp: longer than 2.4 hours
  const uint64_t sub = (v >> (e - kSubBits)) - (1u << kSubBits);
  return kLinear + static_cast<size_t>(e - kLinearBits) * (1u << kSubBits) + static_cast<size_t>(sub);
}

uint64_t Histogram::bucket_low(size_t i) {
  constexpr uint64_t kLinear = 1u << kLinearBits;
  if (i < kLinear) return i;
  const size_t j = i - kLinear;
  const int e = static_cast<int>(j >> kSubBits) + kLinearBits;
  const uint64_t sub = j & ((1u << kSubBits) - 1);
  return (uint64_t{1} << e) + (sub << (e - kSubBits));
}

uint64_t Histogram::bucket_high(size_t i) {
  if (i + 1 >= kBuckets) return UINT64_MAX;
  return bucket_low(i + 1) - 1;
}

void Histogram::merge(const Histogram& o) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  total_ += o.total_;
  sum_ += o.sum_;
  max_ = std::max(max_, o.max_);
  min_ = std::min(min_, o.min_);
}

uint64_t Histogram::percentile(double q) const {
  if (total_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the sample asked for, from 1; q = 0 is the smallest sample.
  uint64_t want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
  if (want < 1) want = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= want) return std::min(bucket_high(i), max_);
  }
  return max_;
}

std::vector<std::pair<uint64_t, double>> Histogram::cdf(int points) const {
  std::vector<std::pair<uint64_t, double>> out;
  if (total_ == 0 || points < 2) return out;
  // A third of the points spread evenly over the body (fractions 0 .. 0.9), the rest evenly
  // in log(1 - fraction) from 0.9 to 1 - 1/total, so p99.9 and beyond are drawn as well.
  const int body = std::max(1, points / 3);
  const int tail = std::max(1, points - body);
  const double dmax = std::max(1.0, std::log10(static_cast<double>(total_)));
  auto add = [&](double q) {
    const uint64_t v = percentile(q);
    if (!out.empty() && out.back().first == v) {
      out.back().second = q;
      return;
    }
    out.emplace_back(v, q);
  };
  for (int k = 0; k < body; ++k) add(0.9 * k / body);
  for (int k = 0; k <= tail; ++k) add(1 - std::pow(10.0, -(1 + (dmax - 1) * k / tail)));
  if (!out.empty() && out.back().first >= max_) out.pop_back();
  out.emplace_back(max_, 1.0);
  return out;
}

}  // namespace tmc::loadgen
