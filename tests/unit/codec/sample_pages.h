// Deterministic, realistic page contents for the codec tests and benchmarks
// (bench/micro/codec_bench.cc includes this file too).
//
// The pages imitate what a cache server's heap holds, as jemalloc lays it out: slabs of
// equal-sized slots packed with small objects. The Redis-like page mixes dict entries and
// object headers (pointers into one heap range, small integers), sds strings with their
// length headers ("user:1042", JSON documents, numbers as text) and the slack at the end
// of each slot. Other kinds isolate one ingredient: JSON records, English-like text,
// numeric arrays (timestamps, counters, doubles). Random bytes and zeros are deliberately
// absent: they are the easy cases (incompressible, same-filled), tested separately.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tmc::codec::testing {

enum class SampleKind { kRedisHeap, kJson, kText, kNumbers };
inline constexpr SampleKind kAllSampleKinds[] = {SampleKind::kRedisHeap, SampleKind::kJson,
                                                 SampleKind::kText, SampleKind::kNumbers};

inline const char* sample_name(SampleKind k) {
  switch (k) {
    case SampleKind::kRedisHeap:
      return "redis_heap";
    case SampleKind::kJson:
      return "json";
    case SampleKind::kText:
      return "text";
    case SampleKind::kNumbers:
      return "numbers";
  }
  return "?";
}

// splitmix64: tiny, deterministic, good enough to vary contents.
class SampleRng {
 public:
  explicit SampleRng(uint64_t seed) : s_(seed * 0x9e3779b97f4a7c15ull + 1) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
  // Skewed towards small indexes, like word and key popularity.
  uint32_t zipfish(uint32_t n) {
    uint32_t a = below(n), b = below(n);
    return a < b ? a : b;
  }

 private:
  uint64_t s_;
};

// Writes into a fixed page; everything past the end is dropped.
class PageWriter {
 public:
  explicit PageWriter(unsigned char* page, size_t size) : p_(page), size_(size) {}
  size_t pos() const { return pos_; }
  bool full() const { return pos_ >= size_; }
  void byte(unsigned char c) {
    if (pos_ < size_) p_[pos_] = c;
    ++pos_;
  }
  void bytes(const void* d, size_t n) {
    for (size_t i = 0; i < n; ++i) byte(static_cast<const unsigned char*>(d)[i]);
  }
  void str(const char* s) { bytes(s, strlen(s)); }
  void u64(uint64_t v) {
    char buf[24];
    int n = 0;
    do {
      buf[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) byte(static_cast<unsigned char>(buf[--n]));
  }
  void word(uint64_t v) { bytes(&v, sizeof(v)); }
  void pad_to(size_t pos, unsigned char fill) {
    while (pos_ < pos) byte(fill);
  }

 private:
  unsigned char* p_;
  size_t size_;
  size_t pos_ = 0;
};

inline constexpr const char* kSampleWords[] = {
    "the",     "of",     "and",      "to",      "in",      "is",      "that",    "for",
    "it",      "as",     "was",      "with",    "be",      "by",      "on",      "not",
    "he",      "this",   "are",      "or",      "his",     "from",    "at",      "which",
    "but",     "have",   "an",       "had",     "they",    "you",     "were",    "their",
    "one",     "all",    "we",       "can",     "her",     "has",     "there",   "been",
    "session", "user",   "account",  "order",   "payment", "cache",   "request", "server",
    "product", "price",  "customer", "address", "status",  "pending", "shipped", "active",
    "london",  "berlin", "paris",    "madrid",  "premium", "basic",   "timeout", "profile",
};
inline constexpr uint32_t kSampleWordCount = sizeof(kSampleWords) / sizeof(kSampleWords[0]);

inline void sample_text(PageWriter& w, SampleRng& r, size_t until) {
  bool cap = true;
  while (w.pos() < until) {
    const char* word = kSampleWords[r.zipfish(kSampleWordCount)];
    if (cap) {
      w.byte(static_cast<unsigned char>(word[0] - 32));
      w.str(word + 1);
    } else {
      w.str(word);
    }
    cap = r.below(14) == 0;
    w.str(cap ? ". " : (r.below(9) == 0 ? ", " : " "));
  }
}

inline void sample_json_record(PageWriter& w, SampleRng& r) {
  uint64_t id = 100000 + r.below(900000);
  w.str("{\"id\":");
  w.u64(id);
  w.str(",\"name\":\"");
  w.str(kSampleWords[40 + r.below(24)]);
  w.byte('_');
  w.u64(r.below(10000));
  w.str("\",\"email\":\"user");
  w.u64(id);
  w.str("@example.com\",\"created\":");
  w.u64(1700000000 + r.below(30000000));
  w.str(",\"score\":");
  w.u64(r.below(1000));
  w.byte('.');
  w.u64(r.below(100));
  w.str(",\"active\":");
  w.str(r.below(3) != 0 ? "true" : "false");
  w.str(",\"tags\":[\"");
  w.str(kSampleWords[40 + r.zipfish(24)]);
  w.str("\",\"");
  w.str(kSampleWords[40 + r.zipfish(24)]);
  w.str("\"],\"city\":\"");
  w.str(kSampleWords[56 + r.below(4)]);
  w.str("\"}");
}

// One page of a Redis-like heap: a run of jemalloc slots of one size class.
inline void sample_redis_heap(PageWriter& w, SampleRng& r, size_t page_size) {
  static constexpr uint32_t kSlotSizes[] = {16, 32, 48, 64, 80, 96, 128, 160, 192, 256};
  const uint32_t slot = kSlotSizes[r.below(sizeof(kSlotSizes) / sizeof(kSlotSizes[0]))];
  const uint64_t heap = 0x00007f3a00000000ull + (r.next() & 0x0fff0000ull);
  while (!w.full()) {
    size_t start = w.pos();
    uint32_t kind = r.below(10);
    if (slot <= 32 || kind < 3) {
      // dictEntry / robj: pointers into the heap and small fields.
      while (w.pos() + 8 <= start + slot) {
        uint32_t f = r.below(4);
        if (f < 2)
          w.word(heap + (uint64_t{r.below(1 << 20)} << 4));
        else if (f == 2)
          w.word(r.below(4) == 0 ? 0 : r.below(1000));
        else
          w.word(uint64_t{0x00a0} | (uint64_t{1} << 32) | (uint64_t{r.below(1 << 24)} << 8));
      }
    } else {
      // sds: header (len, alloc, flags) then the string and its NUL.
      unsigned char header[3] = {0, static_cast<unsigned char>(slot - 4), 1};
      w.bytes(header, 3);
      if (kind < 6) {
        w.str(kSampleWords[40 + r.zipfish(24)]);
        w.byte(':');
        w.u64(r.below(100000));
        if (r.below(2) == 0) {
          w.byte(':');
          w.str(kSampleWords[40 + r.zipfish(24)]);
        }
      } else if (kind < 9) {
        sample_json_record(w, r);  // may spill over several slots, as in a larger class
      } else {
        w.u64(r.next() % 100000000);
      }
      w.byte(0);
    }
    // jemalloc does not clear freed memory: slack keeps older bytes, often zeros.
    size_t end = start + slot;
    if (w.pos() > end) end = (w.pos() + 15) / 16 * 16;  // spilled: a larger size class
    w.pad_to(end, r.below(3) == 0 ? 0x5a : 0);
    if (w.pos() >= page_size) break;
  }
}

inline void sample_numbers(PageWriter& w, SampleRng& r) {
  uint64_t t = 1700000000000ull + r.below(1 << 30);
  double x = 100.0 + r.below(1000);
  while (!w.full()) {
    switch (r.below(3)) {
      case 0:  // a time series: timestamp, value
        t += 1000 + r.below(50);
        w.word(t);
        x += (static_cast<double>(r.below(2001)) - 1000.0) / 100.0;
        w.bytes(&x, sizeof(x));
        break;
      case 1: {  // counters
        uint32_t c[4] = {r.below(100), r.below(1000), r.below(70000), 0};
        w.bytes(c, sizeof(c));
        break;
      }
      default: {  // a small int array
        int32_t base = static_cast<int32_t>(r.below(5000));
        for (int i = 0; i < 4; ++i) {
          int32_t v = base + i * static_cast<int32_t>(r.below(8));
          w.bytes(&v, sizeof(v));
        }
      }
    }
  }
}

// Fills page_size bytes at page with a sample of the given kind; same seed, same page.
inline void make_sample_page(SampleKind kind, uint64_t seed, void* page, size_t page_size = 4096) {
  auto* p = static_cast<unsigned char*>(page);
  PageWriter w(p, page_size);
  SampleRng r(seed * 4 + static_cast<uint64_t>(kind));
  switch (kind) {
    case SampleKind::kRedisHeap:
      sample_redis_heap(w, r, page_size);
      break;
    case SampleKind::kJson:
      while (!w.full()) {
        sample_json_record(w, r);
        w.byte('\n');
      }
      break;
    case SampleKind::kText:
      sample_text(w, r, page_size);
      break;
    case SampleKind::kNumbers:
      sample_numbers(w, r);
      break;
  }
}

}  // namespace tmc::codec::testing
