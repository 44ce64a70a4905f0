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
//
// Repeated values (--distinct N): every value is one of N contents per key type (string,
// hash, list; with --types string:100, N contents in all), the content chosen from (seed,
// key, version), so that a server holds many copies of few values (what dedup and the
// kernel's KSM merge) and every read is still checked exactly. Content i of a type is the
// value that type's i-th pseudo-key (a key number far above any real key, of the same type)
// holds at version 1: the same bytes wherever it is stored. A string key's content is any
// string record (a "user:" key may hold an order).
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

// The most contents --distinct takes (per key type).
constexpr uint32_t kMaxDistinct = 1u << 20;

class ValueGen {
 public:
  // distinct: 0 = every (key, version) has a value of its own; 1..kMaxDistinct = every value
  // is one of that many contents per key type (see the top of this file).
  ValueGen(uint64_t seed, TypeMix types, SizeRange sizes, uint32_t distinct = 0);
  KeyType type_of(uint64_t key) const;
  // key_name(key): "user:123", "h:77", ... (the kind, a colon, the key number).
  void key_name(uint64_t key, std::string* out) const;
  // generate(key, version, out): the value key holds at version (>= 1).
  void generate(uint64_t key, uint32_t version, Value* out) const;
  uint32_t distinct() const { return distinct_; }
  // content_of(key, version): with --distinct, which of the N contents of the key's type
  // the key holds at version (0..N-1); 0 without.
  uint32_t content_of(uint64_t key, uint32_t version) const;

 private:
  int kind_of(uint64_t key) const;
  // The value key holds at version when every value is its own (distinct_ == 0).
  void generate_own(uint64_t key, uint32_t version, Value* out) const;
  uint64_t seed_;
  TypeMix types_;
  SizeRange sizes_;
  uint32_t distinct_;
  std::vector<std::vector<uint64_t>> pseudo_;  // per KeyType: the pseudo-key of each content
};

}  // namespace tmc::loadgen
