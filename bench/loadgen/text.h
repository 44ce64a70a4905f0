// English-like text and the small word lists the records draw from. Word frequencies are
// Zipf-like (weight 1/(rank+2)) over a vocabulary of common English words plus a long tail
// of syllable-made words, and about one word slot in five is a common short phrase ("one
// of the", "as well as"): real prose repeats phrases far more than independent words
// would, and that is what sets its lz4/zstd ratio (bench/datasets/records.py does the same).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "rng.h"

namespace tmc::loadgen {

// append_text(rng, n, out): about n bytes (never more) of sentences appended to *out.
void append_text(Rng& rng, size_t n, std::string* out);
// append_token(rng, n, out): n random bytes as base64url (no padding), like a session id.
void append_token(Rng& rng, size_t n, std::string* out);
// append_words(rng, n, out): n space-separated words (a search query, a tag list).
void append_words(Rng& rng, size_t n, std::string* out);

// Pick lists (index with rng.below(size)).
struct Words {
  const std::string_view* items;
  size_t size;
  std::string_view pick(Rng& rng) const { return items[rng.below(size)]; }
};
extern const Words kFirstNames, kLastNames, kCities, kStreets, kDomains, kAdjectives, kNouns,
    kCategories, kCurrencies, kEvents, kPages, kAgents, kRoles, kLocales, kMetrics, kOrderStates;

}  // namespace tmc::loadgen
