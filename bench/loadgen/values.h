// Realistic values, reproducible from (seed, key, version): what a cache or session store
// holds, never random bytes alone nor filler. A key's type (string, hash, list) and record
// kind depend on the key only; its content on (seed, key, version), so the client checks a
// value it reads by generating the expected one again, and keeps only a version per key.
//
// Record kinds (the mix of bench/datasets/records.py):
//   user     JSON profile: id, names, e-mail, phone, address, timestamps, preferences, bio
//   order    JSON order: customer, line items (SKU, product, quantity, price), status history
//   event    JSON analytics event: type, time, ids, IPv4, user agent, page, properties
//   post     English-like text: Zipf-distributed vocabulary with common phrases
//   metrics  numeric series: timestamps and random-walk readings, CSV or JSON
//   session  session blob: base64url tokens (incompressible), roles, expiry, CSRF, cart
//   hash     8-13 fields of a profile or product (description text, JSON sub-objects)
//   list     3-16 events or comments of one thread (JSON each)
// The target size of each value is drawn log-uniformly from the size range; records grow
// to it with more of their own content (a longer bio, more items), never with padding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tmc::loadgen {

enum class KeyType : uint8_t { kString, kHash, kList };

struct TypeMix {
  int string = 65, hash = 20, list = 15;  // weights, in percent of keys
};

struct SizeRange {
  uint32_t min = 100, max = 4096;  // target value bytes (hash: fields + values; list: elements)
};

// parse_types("string:65,hash:20,list:15"), parse_sizes("100-4096" or "1000"): false (and
// *error says why) on malformed input.
bool parse_types(std::string_view s, TypeMix* out, std::string* error);
bool parse_sizes(std::string_view s, SizeRange* out, std::string* error);

struct Value {
  KeyType type = KeyType::kString;
  std::string str;                                          // kString
  std::vector<std::pair<std::string, std::string>> fields;  // kHash
  std::vector<std::string> elems;                           // kList
  void clear();
  size_t bytes() const;  // payload bytes (as SizeRange counts them)
  // flatten(out): one byte string: the string itself, a hash as a JSON object, a list as
  // newline-separated lines (what memcached stores, and what the ratio sample holds).
  void flatten(std::string* out) const;
};

class ValueGen {
 public:
  ValueGen(uint64_t seed, TypeMix types, SizeRange sizes);
  KeyType type_of(uint64_t key) const;
  // key_name(key): "user:123", "h:77", ... (the kind, a colon, the key number).
  void key_name(uint64_t key, std::string* out) const;
  // generate(key, version, out): the value key holds at version (>= 1).
  void generate(uint64_t key, uint32_t version, Value* out) const;

 private:
  int kind_of(uint64_t key) const;
  uint64_t seed_;
  TypeMix types_;
  SizeRange sizes_;
};

}  // namespace tmc::loadgen
