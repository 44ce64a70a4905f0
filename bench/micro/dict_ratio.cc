// Per-page compression ratio of real heap pages with and without a dictionary, through
// libtmc's own codec and dictionary code (src/codec). Input: a file of 4 KiB pages (for
// example a server's heap, dumped by bench/dictionary_ratio.sh). The dictionary is filled
// the way the reclaimer fills it: one compressible page in every STRIDE, from the first
// pages of the file (or from the middle with --from-middle), until full.
//
//   bench_dict_ratio PAGES_FILE [--stride 16] [--from-middle]
//
// Prints one Markdown table row per codec: ratio without and with the dictionary, the share
// of pages saving at least 25%, and compress / decompress time per page.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "codec/codec.h"
#include "codec/dictionary.h"

using tmc::codec::CodecKind;
using tmc::codec::Dictionary;
using tmc::codec::Encoded;
using tmc::codec::kPageSize;
using tmc::codec::PageCodec;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Result {
  double ratio;          // original bytes / blob bytes, same-filled pages excluded
  double saving_share;   // pages whose blob is at most 3/4 of a page
  double compress_us;    // per page
  double decompress_us;  // per page
};

Result measure(PageCodec& codec, const Dictionary* dict, const char* pages, size_t n) {
  static unsigned char out[2 * kPageSize], back[kPageSize];
  uint64_t orig = 0, blobs = 0, saving = 0, counted = 0;
  double compress = 0, decompress = 0;
  for (size_t i = 0; i < n; ++i) {
    const char* page = pages + i * kPageSize;
    double t0 = now_s();
    Encoded e = codec.encode(page, out, sizeof(out), 2 * kPageSize, dict);
    double t1 = now_s();
    if (e.kind != Encoded::Kind::kCompressed) continue;
    if (!codec.decode(out, e.size, back, e.with_dict ? dict : nullptr) || memcmp(back, page, kPageSize) != 0) {
      fprintf(stderr, "page %zu did not round-trip\n", i);
      exit(1);
    }
    double t2 = now_s();
    compress += t1 - t0;
    decompress += t2 - t1;
    ++counted;
    orig += kPageSize;
    blobs += e.size;
    if (e.size <= kPageSize * 3 / 4) ++saving;
  }
  return {static_cast<double>(orig) / static_cast<double>(blobs), static_cast<double>(saving) / static_cast<double>(counted),
          compress / static_cast<double>(counted) * 1e6, decompress / static_cast<double>(counted) * 1e6};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PAGES_FILE [--stride N] [--from-middle]\n", argv[0]);
    return 2;
  }
  size_t stride = 16;
  bool from_middle = false;
  for (int i = 2; i < argc; ++i) {
    if (strcmp(argv[i], "--stride") == 0 && i + 1 < argc) stride = strtoul(argv[++i], nullptr, 10);
    else if (strcmp(argv[i], "--from-middle") == 0) from_middle = true;
    else {
      fprintf(stderr, "unknown argument: %s\n", argv[i]);
      return 2;
    }
  }
  if (stride == 0) stride = 1;
  int fd = open(argv[1], O_RDONLY);
  struct stat st{};
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kPageSize)) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  size_t n = static_cast<size_t>(st.st_size) / kPageSize;
  auto* pages = static_cast<const char*>(mmap(nullptr, n * kPageSize, PROT_READ, MAP_PRIVATE, fd, 0));
  if (pages == MAP_FAILED) return 1;
  printf("%zu pages; dictionary: one page in %zu from the %s of the file\n\n", n, stride,
         from_middle ? "middle" : "start");
  printf("| codec | ratio, no dictionary | ratio, dictionary | gain | pages saving >= 25%% (no dict / dict) "
         "| compress µs/page (no dict / dict) | decompress µs/page (no dict / dict) |\n");
  printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  struct {
    CodecKind kind;
    int level;
  } configs[] = {{CodecKind::kLz4, 0}, {CodecKind::kZstd, 1}, {CodecKind::kZstd, 3}};
  for (auto c : configs) {
    PageCodec codec;
    Dictionary dict;
    if (!codec.init(c.kind, c.level) || !dict.init(c.kind, c.level)) return 1;
    static unsigned char scratch[2 * kPageSize];
    size_t seen = 0;
    for (size_t i = from_middle ? n / 2 : 0; i < n && !dict.full(); ++i) {
      const char* page = pages + i * kPageSize;
      if (codec.encode(page, scratch, sizeof(scratch), kPageSize * 3 / 4).kind != Encoded::Kind::kCompressed) continue;
      if (seen++ % stride == 0) dict.add_sample(page);
    }
    if (!dict.seal()) return 1;
    Result a = measure(codec, nullptr, pages, n);
    Result b = measure(codec, &dict, pages, n);
    printf("| %s | %.3f | %.3f | %+.1f%% | %.1f%% / %.1f%% | %.2f / %.2f | %.2f / %.2f |\n", codec.name(), a.ratio,
           b.ratio, (b.ratio / a.ratio - 1) * 100, a.saving_share * 100, b.saving_share * 100, a.compress_us,
           b.compress_us, a.decompress_us, b.decompress_us);
  }
  return 0;
}
