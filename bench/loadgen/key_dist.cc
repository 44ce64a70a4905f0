// Key popularity samplers (key_dist.h).
#include "key_dist.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace tmc::loadgen {
namespace {

bool parse_double(std::string_view s, double* out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && p == end && std::isfinite(*out);
}

// log1p(x)/x and expm1(x)/x, continuous at 0 (the Zipf integral has 0/0 at s = 1).
double log1p_over(double x) { return std::fabs(x) > 1e-8 ? std::log1p(x) / x : 1 - x / 2 + x * x / 3; }
double expm1_over(double x) { return std::fabs(x) > 1e-8 ? std::expm1(x) / x : 1 + x / 2 + x * x / 6; }

}  // namespace

std::string DistSpec::text() const {
  char buf[64];
  switch (kind) {
    case DistKind::kUniform:
      return "uniform";
    case DistKind::kZipf:
      std::snprintf(buf, sizeof buf, "zipf:%g", zipf_s);
      return buf;
    case DistKind::kHotSet:
      std::snprintf(buf, sizeof buf, "hotset:%g:%g", hot_keys * 100, hot_share * 100);
      return buf;
    case DistKind::kRecent:
      std::snprintf(buf, sizeof buf, "recent:%g:%g", hot_keys * 100, zipf_s);
      return buf;
  }
  return "?";
}

bool parse_dist(std::string_view s, DistSpec* out, std::string* error) {
  DistSpec d;
  if (s == "uniform") {
    *out = d;
    return true;
  }
  if (s.starts_with("zipf:")) {
    d.kind = DistKind::kZipf;
    if (!parse_double(s.substr(5), &d.zipf_s) || d.zipf_s <= 0 || d.zipf_s > 10) {
      *error = "zipf:S needs an exponent S in (0, 10], e.g. zipf:0.99";
      return false;
    }
    *out = d;
    return true;
  }
  if (s.starts_with("hotset:")) {
    d.kind = DistKind::kHotSet;
    std::string_view rest = s.substr(7);
    size_t colon = rest.find(':');
    double k = 0, p = 0;
    if (colon == std::string_view::npos || !parse_double(rest.substr(0, colon), &k) ||
        !parse_double(rest.substr(colon + 1), &p) || k <= 0 || k >= 100 || p <= 0 || p >= 100) {
      *error = "hotset:K:P needs 0 < K < 100 (% of keys) and 0 < P < 100 (% of requests), e.g. hotset:10:90";
      return false;
    }
    d.hot_keys = k / 100;
    d.hot_share = p / 100;
    *out = d;
    return true;
  }
  if (s.starts_with("recent:")) {
    d.kind = DistKind::kRecent;
    std::string_view rest = s.substr(7);
    size_t colon = rest.find(':');
    double k = 0;
    if (colon == std::string_view::npos || !parse_double(rest.substr(0, colon), &k) ||
        !parse_double(rest.substr(colon + 1), &d.zipf_s) || k <= 0 || k > 100 || d.zipf_s <= 0 || d.zipf_s > 10) {
      *error = "recent:K:S needs 0 < K <= 100 (% of keys, the last loaded) and a Zipf exponent S in (0, 10], "
               "e.g. recent:20:0.99";
      return false;
    }
    d.hot_keys = k / 100;
    *out = d;
    return true;
  }
  *error = "unknown distribution '" + std::string(s) + "' (uniform, zipf:S, hotset:K:P, recent:K:S)";
  return false;
}

// ---- Zipf by rejection-inversion ----------------------------------------------------------
// h(x) = x^-s is the density's envelope; H is its integral, chosen so that
// H(x) = ((x^(1-s)) - 1) / (1-s) (log x at s = 1). A uniform u between H(1.5) - 1 and
// H(n + 0.5) is inverted to x; k = round(x) is accepted when it falls under the step of
// height h(k) ending at k + 0.5, which almost every draw does.

ZipfSampler::ZipfSampler(uint64_t n, double s) : n_(n), s_(s) {
  h_integral_x1_ = h_integral(1.5) - 1;
  h_integral_n_ = h_integral(static_cast<double>(n) + 0.5);
  threshold_ = 2 - h_integral_inverse(h_integral(2.5) - h(2));
}

double ZipfSampler::h(double x) const { return std::exp(-s_ * std::log(x)); }

double ZipfSampler::h_integral(double x) const {
  const double lx = std::log(x);
  return expm1_over((1 - s_) * lx) * lx;
}

double ZipfSampler::h_integral_inverse(double x) const {
  double t = x * (1 - s_);
  if (t < -1) t = -1;  // rounding can push it just past the pole
  return std::exp(log1p_over(t) * x);
}

uint64_t ZipfSampler::sample(Rng& rng) const {
  for (;;) {
    const double u = h_integral_n_ + rng.unit() * (h_integral_x1_ - h_integral_n_);
    const double x = h_integral_inverse(u);
    double kd = std::floor(x + 0.5);
    if (kd < 1) kd = 1;
    if (kd > static_cast<double>(n_)) kd = static_cast<double>(n_);
    if (kd - x <= threshold_ || u >= h_integral(kd + 0.5) - h(kd)) return static_cast<uint64_t>(kd);
  }
}

// ---- KeyDist --------------------------------------------------------------------------------

namespace {
// kRecent's key count: the share of keys, at least 1, at most all.
uint64_t recent_keys(const DistSpec& spec, uint64_t keys) {
  const auto n = static_cast<uint64_t>(std::llround(spec.hot_keys * static_cast<double>(keys)));
  return n < 1 ? 1 : n > keys ? keys : n;
}
}  // namespace

KeyDist::KeyDist(const DistSpec& spec, uint64_t keys)
    : spec_(spec),
      keys_(keys),
      zipf_(spec.kind == DistKind::kRecent ? recent_keys(spec, keys) : keys,
            spec.kind == DistKind::kZipf || spec.kind == DistKind::kRecent ? spec.zipf_s : 1.0) {
  if (spec.kind == DistKind::kRecent) {
    hot_ = recent_keys(spec, keys);
  } else {
    hot_ = static_cast<uint64_t>(std::llround(spec.hot_keys * static_cast<double>(keys)));
    if (hot_ < 1) hot_ = 1;
    if (hot_ >= keys) hot_ = keys > 1 ? keys - 1 : 1;
  }
  span_ = spec.kind == DistKind::kRecent ? hot_ : keys;
  base_ = keys - span_;
  // A stride coprime with the span makes r -> r*stride + offset a bijection; near the
  // golden ratio of the span it scatters neighbouring ranks across it.
  stride_ = static_cast<uint64_t>(static_cast<double>(span_) * 0.6180339887) | 1;
  while (std::gcd(stride_, span_) != 1) stride_ += 2;
  offset_ = span_ / 3;
}

uint64_t KeyDist::rank(Rng& rng) const {
  switch (spec_.kind) {
    case DistKind::kUniform:
      return rng.below(keys_);
    case DistKind::kZipf:
    case DistKind::kRecent:
      return zipf_.sample(rng) - 1;
    case DistKind::kHotSet:
      if (keys_ < 2) return 0;
      if (rng.unit() < spec_.hot_share) return rng.below(hot_);
      return hot_ + rng.below(keys_ - hot_);
  }
  return 0;
}

}  // namespace tmc::loadgen
