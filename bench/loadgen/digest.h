// 64-bit digests of values, seeded with the version: a read is first compared with the
// digest of the version the client last generated for that key (kept per key), and only
// when that differs is the expected value generated again and compared byte for byte.
// With Zipf loads most reads are of a few hot keys, so checking every read costs a hash
// of the reply instead of a full value generation. A false match has odds of 2^-64.
// A hash reply's pairs arrive in Redis's hash table order, so their digest is a sum of
// per-pair digests (independent of order); a list's is a chain (order matters).
#pragma once

#include <cstdint>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace tmc::loadgen {

inline uint64_t digest_bytes(std::string_view s, uint64_t seed) { return XXH3_64bits_withSeed(s.data(), s.size(), seed); }

// digest_chain: items in order.
template <typename It>
uint64_t digest_chain(It begin, It end, uint64_t seed) {
  uint64_t h = seed ^ 0x6c697374;  // "list"
  for (It i = begin; i != end; ++i) h = digest_bytes(std::string_view(*i), h);
  return h;
}

// digest_pair / sum: one field and its value; a hash's digest is the sum over its fields.
inline uint64_t digest_pair(std::string_view field, std::string_view value, uint64_t seed) {
  return digest_bytes(value, digest_bytes(field, seed ^ 0x68617368));  // "hash"
}

}  // namespace tmc::loadgen
