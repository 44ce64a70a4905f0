// lz4 / zstd ratios of generated values (ratio.h).
#include "ratio.h"

#include <cstdio>
#include <lz4.h>
#include <vector>
#include <zstd.h>

namespace tmc::loadgen {

double sample_values(const ValueGen& gen, uint64_t keys, uint64_t bytes, std::string* out) {
  out->clear();
  Value v;
  std::string flat;
  uint64_t k = 0, payload = 0;
  for (; out->size() < bytes; ++k) {
    gen.generate(k % keys, 1, &v);
    v.flatten(&flat);
    out->append(flat);
    payload += v.bytes();
  }
  out->resize(bytes);
  return static_cast<double>(payload) / static_cast<double>(k);
}

void print_ratio(const std::string& s, double mean, bool json) {
  constexpr size_t kPage = 4096;
  std::vector<char> buf(ZSTD_compressBound(s.size()) + LZ4_compressBound(static_cast<int>(s.size())));
  ZSTD_CCtx* z = ZSTD_createCCtx();
  const double whole_lz4 = static_cast<double>(s.size()) /
                           LZ4_compress_default(s.data(), buf.data(), static_cast<int>(s.size()), static_cast<int>(buf.size()));
  const double whole_zstd = static_cast<double>(s.size()) / ZSTD_compressCCtx(z, buf.data(), buf.size(), s.data(), s.size(), 1);
  size_t lz = 0, zs = 0, pages = s.size() / kPage;
  for (size_t p = 0; p < pages; ++p) {
    const char* src = s.data() + p * kPage;
    lz += static_cast<size_t>(LZ4_compress_default(src, buf.data(), kPage, static_cast<int>(buf.size())));
    zs += ZSTD_compressCCtx(z, buf.data(), buf.size(), src, kPage, 1);
  }
  ZSTD_freeCCtx(z);
  const double page_lz4 = static_cast<double>(pages * kPage) / static_cast<double>(lz);
  const double page_zstd = static_cast<double>(pages * kPage) / static_cast<double>(zs);
  if (json)
    std::printf("{\"sample_bytes\":%zu,\"mean_value_bytes\":%.1f,\"lz4_whole\":%.3f,\"lz4_4k\":%.3f,"
                "\"zstd1_whole\":%.3f,\"zstd1_4k\":%.3f}\n",
                s.size(), mean, whole_lz4, page_lz4, whole_zstd, page_zstd);
  else
    std::printf("%.1f MiB of generated values (mean %.0f B): lz4 %.2fx whole, %.2fx per 4 KiB; zstd -1 %.2fx whole, %.2fx per 4 KiB\n",
                static_cast<double>(s.size()) / 1048576.0, mean, whole_lz4, page_lz4, whole_zstd, page_zstd);
}

}  // namespace tmc::loadgen
