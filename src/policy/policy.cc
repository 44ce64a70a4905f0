#include "policy/policy.h"

namespace tmc::policy {

uint64_t AgeHistogram::total() const {
  uint64_t t = 0;
  for (uint64_t p : pages) t += p;
  return t;
}

uint32_t threshold_for_target(const AgeHistogram& h, uint64_t pages_needed) {
  if (pages_needed == 0) return kNoThreshold;
  uint64_t taken = 0;
  for (int b = AgeHistogram::kBuckets - 1; b >= 1; --b) {
    taken += h.pages[b];
    if (taken >= pages_needed) return AgeHistogram::bucket_floor(b);
  }
  return 1;  // all of them would not be enough: everything but this epoch's pages
}

uint64_t pages_to_target(uint64_t rss_bytes, uint64_t target_bytes, double ratio) {
  if (rss_bytes <= target_bytes) return 0;
  if (ratio < 1.1) ratio = 1.1;  // an unknown or poor ratio: still make progress
  double saved_per_page = 4096.0 * (1.0 - 1.0 / ratio);
  return static_cast<uint64_t>(static_cast<double>(rss_bytes - target_bytes) / saved_per_page) + 1;
}

uint64_t hold_slack(uint64_t target_bytes) {
  uint64_t slack = target_bytes / 50;
  return slack > (uint64_t{1} << 20) ? slack : uint64_t{1} << 20;
}

uint8_t next_heat(uint8_t heat, uint32_t distance, uint32_t threshold, uint8_t max_heat) {
  if (threshold == 0 || threshold == kNoThreshold) return heat;
  uint64_t wait = static_cast<uint64_t>(threshold) << heat;  // what the page waited to go
  if (distance <= wait) return heat < max_heat ? heat + 1 : heat;
  if (heat > 0 && distance >= 2 * wait) return heat - 1;
  return heat;
}

void Pacer::reset(uint64_t wall_ns, uint64_t cpu_ns) {
  last_wall_ = wall_ns;
  last_cpu_ = cpu_ns;
  credit_ = 0;
}

uint64_t Pacer::charge(uint64_t wall_ns, uint64_t cpu_ns, double share) {
  if (share <= 0) share = 0.01;
  int64_t earned = static_cast<int64_t>(static_cast<double>(wall_ns - last_wall_) * share);
  credit_ += earned - static_cast<int64_t>(cpu_ns - last_cpu_);
  if (credit_ > static_cast<int64_t>(kMaxCreditNs)) credit_ = static_cast<int64_t>(kMaxCreditNs);
  last_wall_ = wall_ns;
  last_cpu_ = cpu_ns;
  if (credit_ >= -static_cast<int64_t>(kBurstNs)) return 0;
  // Sleeping earns share of the sleep: this long brings the credit up to +kBurstNs, so the
  // next burst runs from +kBurstNs down to -kBurstNs.
  return static_cast<uint64_t>(static_cast<double>(static_cast<int64_t>(kBurstNs) - credit_) / share);
}

}  // namespace tmc::policy
