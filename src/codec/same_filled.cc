// See same_filled.h.
#include "codec/same_filled.h"

#include <cstring>

#include "base/compiler.h"
#include "codec/codec.h"

namespace tmc::codec {
namespace {
// Pages hold whatever the application wrote there; read them as words without telling
// the compiler anything about their type.
using Word = uint64_t __attribute__((may_alias));
constexpr size_t kWords = kPageSize / sizeof(uint64_t);
constexpr size_t kBlockWords = 8;  // one cache line per early-exit test
}  // namespace

bool is_same_filled(const void* page, uint64_t* word) {
  const Word* w = static_cast<const Word*>(page);
  const uint64_t first = w[0];
  // Most pages differ within their first line; a cheap look at the last word catches
  // pages that start with a run (headers, zeroed prefixes) before the full scan.
  if (TMC_LIKELY(w[1] != first) || w[kWords - 1] != first) return false;
  for (size_t i = 0; i < kWords; i += kBlockWords) {
    uint64_t diff = 0;
    for (size_t j = 0; j < kBlockWords; ++j) diff |= w[i + j] ^ first;
    if (diff != 0) return false;
  }
  *word = first;
  return true;
}

void fill_page(void* page, uint64_t word) {
  if (word == 0) {
    memset(page, 0, kPageSize);
    return;
  }
  Word* w = static_cast<Word*>(page);
  for (size_t i = 0; i < kWords; ++i) w[i] = word;
}

}  // namespace tmc::codec
