#include "zipf_pages.h"

#include <cmath>

namespace acc {

ZipfPages::ZipfPages(size_t pages, double s, uint64_t seed)
    : pages_(pages), s_(s), stream_seed_(tmc::loadgen::mix(seed, 0x2199f)), zipf_(pages, s) {
  page_of_rank_.allocate(pages);
  rank_of_page_.allocate(pages);
  for (size_t i = 0; i < pages; ++i) page_of_rank_[i] = static_cast<uint32_t>(i);
  // Fisher-Yates from its own stream, so the layout does not depend on how many accesses
  // were drawn.
  Rng rng(tmc::loadgen::mix(seed, 0x9e12));
  for (size_t i = pages; i > 1; --i) {
    size_t j = rng.below(i);
    uint32_t t = page_of_rank_[i - 1];
    page_of_rank_[i - 1] = page_of_rank_[j];
    page_of_rank_[j] = t;
  }
  for (size_t r = 0; r < pages; ++r) rank_of_page_[page_of_rank_[r]] = static_cast<uint32_t>(r);

  double total = 0;
  double sums[kBands] = {};
  int b = 0;
  for (int k = 0; k < kBands; ++k) {
    band_end_[k] = static_cast<size_t>(std::ceil(kBandEdges[k] * static_cast<double>(pages)));
    if (band_end_[k] > pages) band_end_[k] = pages;
    if (k > 0 && band_end_[k] < band_end_[k - 1]) band_end_[k] = band_end_[k - 1];
  }
  band_end_[kBands - 1] = pages;
  for (size_t r = 0; r < pages; ++r) {
    while (r >= band_end_[b]) ++b;
    const double p = std::pow(static_cast<double>(r + 1), -s);
    sums[b] += p;
    total += p;
  }
  for (int k = 0; k < kBands; ++k) band_share_[k] = sums[k] / total;
}

Access ZipfPages::next(Rng& rng) const {
  const uint64_t rank = zipf_.sample(rng) - 1;
  return Access{page_of_rank_[rank], rng.next()};
}

int ZipfPages::band_of_page(size_t p) const {
  const size_t r = rank_of_page_[p];
  int b = 0;
  while (r >= band_end_[b]) ++b;
  return b;
}

}  // namespace acc
