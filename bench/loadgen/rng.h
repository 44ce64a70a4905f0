// Small, fast, reproducible randomness for the load generator: splitmix64 to mix seeds,
// xoshiro256** as the generator. Values must be reproducible from (seed, key, version),
// so every value gets its own generator seeded by mix(seed, key, version); the key
// sampler of each connection gets its own stream too. std::mt19937 would do, but it
// costs 2.5 KiB of state to seed per value.
#pragma once

#include <cstdint>

namespace tmc::loadgen {

inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// mix(a, b, c): one well-spread 64-bit seed from three numbers.
inline uint64_t mix(uint64_t a, uint64_t b, uint64_t c = 0) {
  uint64_t x = a * 0x9e3779b97f4a7c15ULL + b;
  uint64_t h = splitmix64(x);
  x ^= c + 0x632be59bd9b4e019ULL;
  return h ^ splitmix64(x);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for our n).
  uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
  // Uniform in [lo, hi].
  int64_t range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo + 1))); }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace tmc::loadgen
