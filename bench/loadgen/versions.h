// The client's record of what each key holds: one 32-bit word per key, the version of its
// last acknowledged write (0 = never written) in the low 31 bits and a write-in-flight bit
// on top. A write takes the bit (so writes of one key never overlap and the server applies
// them in version order), and on its reply stores version + 1 with the bit clear. A read
// that was sent when the word said version a, and whose reply arrived when it said b (plus
// one if a write was then in flight), must have returned a version in [a, b]: the check
// tries those. With --state FILE the words live in a file (mmap), so a later run — the
// integrity check after a benchmark, say — knows every key's version.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace tmc::loadgen {

class Versions {
 public:
  static constexpr uint32_t kBusy = 1u << 31;
  Versions() = default;
  Versions(const Versions&) = delete;
  Versions& operator=(const Versions&) = delete;
  ~Versions();
  // open(keys, seed, distinct, path): anonymous memory when path is empty; otherwise the
  // file, created when missing, refused (false, *error) when it was made for other
  // keys/seed/--distinct.
  bool open(uint64_t keys, uint64_t seed, uint32_t distinct, const std::string& path, std::string* error);
  std::atomic<uint32_t>& word(uint64_t key) { return words_[key]; }
  // The digest (digest.h) of the last value generated for the key, seeded with its
  // version; 0 = none. In memory only: a later process generates each value once again.
  std::atomic<uint64_t>& digest(uint64_t key) { return digests_[key]; }
  uint64_t keys() const { return keys_; }
  static uint32_t version(uint32_t w) { return w & ~kBusy; }
  static bool busy(uint32_t w) { return (w & kBusy) != 0; }

 private:
  std::atomic<uint32_t>* words_ = nullptr;
  std::atomic<uint64_t>* digests_ = nullptr;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  uint64_t keys_ = 0;
};

}  // namespace tmc::loadgen
