// What recompressing long-idle pages could gain: the per-page zstd ratio of real heap pages
// at higher levels and with larger raw-content dictionaries than the reclaimer uses (zstd
// -1, 128 KiB of pages sampled from the first ones evicted), and what each costs per page.
// Straight libzstd, no libtmc code: this measures the candidates, not an implementation.
// The dictionary is raw content (no training, as libtmc's), DICT_KIB of pages taken evenly
// over the whole file; every STEP-th page is compressed on its own with it.
//
//   bench_deep_ratio PAGES_FILE [--step 16] [--levels 1,3,6,9] [--dicts 128,512,2048]
//
// Prints one Markdown table row per (dictionary size, level): ratio (same-filled pages
// left out), the gain over the reclaimer's configuration (zstd -1 with 128 KiB, measured
// the same way), and compress / decompress time per page.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr size_t kPage = 4096;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool same_filled(const char* p) {
  uint64_t w;
  memcpy(&w, p, sizeof(w));
  for (size_t i = sizeof(w); i < kPage; i += sizeof(w)) {
    uint64_t x;
    memcpy(&x, p + i, sizeof(x));
    if (x != w) return false;
  }
  return true;
}

std::vector<size_t> parse_list(const char* s) {
  std::vector<size_t> v;
  for (char* end = nullptr;; s = end + 1) {
    v.push_back(strtoul(s, &end, 10));
    if (*end != ',') break;
  }
  return v;
}

struct Result {
  double ratio, compress_us, decompress_us;
};

// in_dict[i]: page i is part of the dictionary, and is not counted (it would compress to a
// reference to itself).
Result measure(const char* pages, size_t n, size_t step, const std::vector<bool>& in_dict, const char* dict,
               size_t dict_bytes, int level) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ZSTD_CDict* cdict = ZSTD_createCDict(dict, dict_bytes, level);
  ZSTD_DDict* ddict = ZSTD_createDDict(dict, dict_bytes);
  static char blob[2 * kPage], back[kPage];
  uint64_t orig = 0, blobs = 0, counted = 0;
  double compress = 0, decompress = 0;
  for (size_t i = step / 2; i < n; i += step) {
    const char* page = pages + i * kPage;
    if (in_dict[i] || same_filled(page)) continue;
    double t0 = now_s();
    size_t size = ZSTD_compress_usingCDict(cctx, blob, sizeof(blob), page, kPage, cdict);
    double t1 = now_s();
    if (ZSTD_isError(size) || ZSTD_decompress_usingDDict(dctx, back, kPage, blob, size, ddict) != kPage ||
        memcmp(back, page, kPage) != 0) {
      fprintf(stderr, "page %zu did not round-trip\n", i);
      exit(1);
    }
    double t2 = now_s();
    compress += t1 - t0;
    decompress += t2 - t1;
    orig += kPage;
    blobs += size < kPage ? size : kPage;  // stored raw when it does not shrink
    ++counted;
  }
  ZSTD_freeCDict(cdict);
  ZSTD_freeDDict(ddict);
  ZSTD_freeCCtx(cctx);
  ZSTD_freeDCtx(dctx);
  return {static_cast<double>(orig) / static_cast<double>(blobs), compress / static_cast<double>(counted) * 1e6,
          decompress / static_cast<double>(counted) * 1e6};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PAGES_FILE [--step 16] [--levels 1,3,6,9] [--dicts 128,512,2048]\n", argv[0]);
    return 2;
  }
  size_t step = 16;
  std::vector<size_t> levels = {1, 3, 6, 9}, dicts = {128, 512, 2048};
  for (int i = 2; i < argc; ++i) {
    if (strcmp(argv[i], "--step") == 0 && i + 1 < argc) step = strtoul(argv[++i], nullptr, 10);
    else if (strcmp(argv[i], "--levels") == 0 && i + 1 < argc) levels = parse_list(argv[++i]);
    else if (strcmp(argv[i], "--dicts") == 0 && i + 1 < argc) dicts = parse_list(argv[++i]);
    else {
      fprintf(stderr, "unknown argument: %s\n", argv[i]);
      return 2;
    }
  }
  if (step == 0) step = 1;
  int fd = open(argv[1], O_RDONLY);
  struct stat st{};
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kPage)) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  const size_t n = static_cast<size_t>(st.st_size) / kPage;
  auto* pages = static_cast<const char*>(mmap(nullptr, n * kPage, PROT_READ, MAP_PRIVATE, fd, 0));
  if (pages == MAP_FAILED) return 1;

  // The reclaimer's configuration, as the baseline: zstd -1, 128 KiB of the first pages
  // (one in 16), measured the same way.
  std::vector<char> first(128 * 1024);
  std::vector<bool> in_first(n);
  for (size_t k = 0; k < first.size() / kPage; ++k) {
    memcpy(&first[k * kPage], pages + (k * 16 % n) * kPage, kPage);
    in_first[k * 16 % n] = true;
  }
  const Result base = measure(pages, n, step, in_first, first.data(), first.size(), 1);

  printf("%zu pages, every %zu-th compressed; baseline (zstd -1, 128 KiB from the first pages, as the reclaimer): "
         "ratio %.3f, %.1f / %.1f µs per page\n\n",
         n, step, base.ratio, base.compress_us, base.decompress_us);
  printf("| dictionary (spread over the heap) | level | ratio | gain over the baseline | compress µs/page | "
         "decompress µs/page |\n| --- | --- | --- | --- | --- | --- |\n");
  for (size_t kib : dicts) {
    const size_t bytes = kib * 1024, count = bytes / kPage;
    std::vector<char> dict(bytes);
    std::vector<bool> in_dict(n);
    for (size_t k = 0; k < count; ++k) {
      memcpy(&dict[k * kPage], pages + (k * n / count) * kPage, kPage);
      in_dict[k * n / count] = true;
    }
    for (size_t level : levels) {
      Result r = measure(pages, n, step, in_dict, dict.data(), dict.size(), static_cast<int>(level));
      printf("| %zu KiB | %zu | %.3f | %+.1f%% | %.1f | %.1f |\n", kib, level, r.ratio, (r.ratio / base.ratio - 1) * 100,
             r.compress_us, r.decompress_us);
      fflush(stdout);
    }
  }
  return 0;
}
