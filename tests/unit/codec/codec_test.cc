// PageCodec: round trips on realistic pages for every backend, the incompressible
// threshold, rejection of corrupt blobs, and that encode/decode obtain no memory.
#include "codec/codec.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "base/meta_alloc.h"
#include "codec/same_filled.h"
#include "sample_pages.h"

namespace tmc::codec {
namespace {

using testing::kAllSampleKinds;
using testing::make_sample_page;
using testing::sample_name;
using testing::SampleKind;

constexpr size_t kMaxBlob = kPageSize * 3 / 4;  // TMC_MIN_SAVING=25%
constexpr size_t kOutCapacity = 2 * kPageSize;

struct Page {
  alignas(64) unsigned char b[kPageSize];
};

struct Config {
  CodecKind kind;
  int level;
  const char* name;
};
const Config kConfigs[] = {
    {CodecKind::kLz4, 0, "lz4"}, {CodecKind::kZstd, 1, "zstd-1"}, {CodecKind::kZstd, 3, "zstd-3"}};

class CodecTest : public ::testing::TestWithParam<Config> {
 protected:
  void SetUp() override { ASSERT_TRUE(codec_.init(GetParam().kind, GetParam().level)); }

  // Encodes and decodes page; returns the encoding.
  Encoded round_trip(const Page& page, size_t max_blob = kMaxBlob) {
    Encoded e = codec_.encode(page.b, out_, sizeof(out_), max_blob);
    Page back;
    memset(back.b, 0xcc, sizeof(back.b));
    switch (e.kind) {
      case Encoded::Kind::kSameFilled:
        PageCodec::fill(back.b, e.fill_word);
        break;
      case Encoded::Kind::kCompressed:
        EXPECT_GT(e.size, 0u);
        EXPECT_LE(e.size, max_blob);
        EXPECT_TRUE(codec_.decode(out_, e.size, back.b));
        break;
      case Encoded::Kind::kIncompressible:
        return e;
    }
    EXPECT_EQ(0, memcmp(page.b, back.b, kPageSize));
    return e;
  }

  PageCodec codec_;
  alignas(64) unsigned char out_[kOutCapacity];
};

TEST_P(CodecTest, Name) { EXPECT_STREQ(GetParam().name, codec_.name()); }

TEST_P(CodecTest, RealisticPagesRoundTrip) {
  for (SampleKind kind : kAllSampleKinds) {
    uint64_t total = 0;
    int compressed = 0;
    constexpr int kPages = 200;
    for (int seed = 0; seed < kPages; ++seed) {
      Page page;
      make_sample_page(kind, seed, page.b);
      // With no saving demanded every page must come back.
      Encoded e = round_trip(page, kPageSize);
      ASSERT_NE(e.kind, Encoded::Kind::kSameFilled) << sample_name(kind);
      if (e.kind == Encoded::Kind::kCompressed) {
        ++compressed;
        total += e.size;
      }
      round_trip(page, kMaxBlob);
    }
    // Text-like pages compress: every one fits a page, on average in well under one.
    EXPECT_EQ(compressed, kPages) << sample_name(kind);
    EXPECT_LT(total, uint64_t{kPages} * kPageSize * 85 / 100) << sample_name(kind);
  }
}

TEST_P(CodecTest, RedisLikePagesMeetTheUsualSaving) {
  int fit = 0;
  for (int seed = 0; seed < 100; ++seed) {
    Page page;
    make_sample_page(SampleKind::kRedisHeap, seed, page.b);
    fit += round_trip(page).kind == Encoded::Kind::kCompressed;
  }
  EXPECT_GE(fit, 95);
}

TEST_P(CodecTest, ZeroPageIsSameFilledAndWritesNothing) {
  Page page;
  memset(page.b, 0, sizeof(page.b));
  memset(out_, 0xab, sizeof(out_));
  Encoded e = codec_.encode(page.b, out_, sizeof(out_), kMaxBlob);
  EXPECT_EQ(e.kind, Encoded::Kind::kSameFilled);
  EXPECT_EQ(e.fill_word, 0u);
  EXPECT_EQ(e.size, 0u);
  for (unsigned char c : out_) ASSERT_EQ(c, 0xab);
}

TEST_P(CodecTest, SameFilledWords) {
  const uint64_t words[] = {0,
                            ~uint64_t{0},
                            0x0101010101010101ull,
                            0x00000000deadbeefull,
                            0x0123456789abcdefull,
                            0x8000000000000000ull,
                            1};
  for (uint64_t w : words) {
    Page page;
    for (size_t i = 0; i < kPageSize; i += 8) memcpy(page.b + i, &w, 8);
    Encoded e = round_trip(page);
    EXPECT_EQ(e.kind, Encoded::Kind::kSameFilled) << std::hex << w;
    EXPECT_EQ(e.fill_word, w);
  }
}

TEST_P(CodecTest, AlmostSameFilledPagesAreCompressed) {
  const uint64_t w = 0x0123456789abcdefull;
  const size_t positions[] = {
      0, 1, 7, 8, 9, 63, 64, 2048, kPageSize - 9, kPageSize - 8, kPageSize - 2, kPageSize - 1};
  for (size_t pos : positions) {
    for (uint64_t word : {uint64_t{0}, w}) {
      Page page;
      for (size_t i = 0; i < kPageSize; i += 8) memcpy(page.b + i, &word, 8);
      page.b[pos] ^= 0x40;
      Encoded e = round_trip(page);
      EXPECT_EQ(e.kind, Encoded::Kind::kCompressed) << "byte " << pos;
      EXPECT_LT(e.size, 64u) << "byte " << pos;
    }
  }
}

TEST_P(CodecTest, RandomBytesAreIncompressible) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20; ++i) {
    Page page;
    for (size_t j = 0; j < kPageSize; j += 8) {
      uint64_t v = rng();
      memcpy(page.b + j, &v, 8);
    }
    EXPECT_EQ(codec_.encode(page.b, out_, sizeof(out_), kMaxBlob).kind,
              Encoded::Kind::kIncompressible);
    // Random data does not fit a page either (zstd would store it raw plus a header).
    EXPECT_EQ(codec_.encode(page.b, out_, sizeof(out_), kPageSize).kind,
              Encoded::Kind::kIncompressible);
  }
}

TEST_P(CodecTest, MaxBlobIsExact) {
  for (SampleKind kind : kAllSampleKinds) {
    for (int seed = 0; seed < 100; ++seed) {
      Page page;
      make_sample_page(kind, seed, page.b);
      Encoded full = codec_.encode(page.b, out_, sizeof(out_), kPageSize);
      ASSERT_EQ(full.kind, Encoded::Kind::kCompressed);
      const uint32_t s = full.size;
      // Exactly at the limit: fits, same size; one byte less: does not.
      Encoded at = round_trip(page, s);
      EXPECT_EQ(at.kind, Encoded::Kind::kCompressed) << sample_name(kind) << " " << s;
      EXPECT_EQ(at.size, s);
      EXPECT_EQ(codec_.encode(page.b, out_, sizeof(out_), s - 1).kind,
                Encoded::Kind::kIncompressible);
      // A smaller output buffer is a limit too.
      EXPECT_EQ(codec_.encode(page.b, out_, s - 1, kPageSize).kind, Encoded::Kind::kIncompressible);
      EXPECT_EQ(codec_.encode(page.b, out_, s, kPageSize).kind, Encoded::Kind::kCompressed);
    }
  }
}

TEST_P(CodecTest, TruncatedAndExtendedBlobsAreRejected) {
  Page page, back;
  make_sample_page(SampleKind::kRedisHeap, 7, page.b);
  Encoded e = codec_.encode(page.b, out_, sizeof(out_), kMaxBlob);
  ASSERT_EQ(e.kind, Encoded::Kind::kCompressed);
  EXPECT_FALSE(codec_.decode(out_, 0, back.b));
  for (uint32_t n = 1; n < e.size; ++n) EXPECT_FALSE(codec_.decode(out_, n, back.b)) << n;
  // Trailing bytes after a valid blob.
  memset(out_ + e.size, 0, 64);
  EXPECT_FALSE(codec_.decode(out_, e.size + 1, back.b));
  EXPECT_FALSE(codec_.decode(out_, e.size + 64, back.b));
  EXPECT_FALSE(codec_.decode(nullptr, e.size, back.b));
  EXPECT_TRUE(codec_.decode(out_, e.size, back.b));
  EXPECT_EQ(0, memcmp(page.b, back.b, kPageSize));
}

// A blob of a page that decodes to fewer or more bytes than a page is not a page.
TEST_P(CodecTest, WrongLengthIsRejected) {
  Page page, back;
  make_sample_page(SampleKind::kText, 1, page.b);
  Encoded e = codec_.encode(page.b, out_, sizeof(out_), kPageSize);
  ASSERT_EQ(e.kind, Encoded::Kind::kCompressed);
  // Concatenating two blobs decodes to two pages: too long.
  memcpy(out_ + e.size, out_, e.size);
  EXPECT_FALSE(codec_.decode(out_, 2 * e.size, back.b));
}

TEST_P(CodecTest, RandomCorruptionNeverCrashes) {
  std::mt19937_64 rng(1234);
  Page page, back;
  int accepted = 0;
  constexpr int kRounds = 20000;
  for (int round = 0; round < kRounds; ++round) {
    if (round % 500 == 0) {
      make_sample_page(kAllSampleKinds[(round / 500) % 4], round, page.b);
    }
    Encoded e = codec_.encode(page.b, out_, sizeof(out_), kPageSize);
    ASSERT_EQ(e.kind, Encoded::Kind::kCompressed);
    uint32_t size = e.size;
    switch (rng() % 4) {
      case 0:  // flip a few bits
        for (int k = 1 + rng() % 3; k > 0; --k) out_[rng() % size] ^= 1u << (rng() % 8);
        break;
      case 1:  // overwrite a run with garbage
        for (uint32_t i = rng() % size, n = 1 + rng() % 16; n > 0 && i < size; --n, ++i)
          out_[i] = static_cast<unsigned char>(rng());
        break;
      case 2:  // truncate or extend, then flip a byte
        size = 1 + rng() % (size + 32);
        out_[rng() % size] ^= static_cast<unsigned char>(1 + rng() % 255);
        break;
      default:  // all garbage
        for (uint32_t i = 0; i < size; ++i) out_[i] = static_cast<unsigned char>(rng());
    }
    if (codec_.decode(out_, size, back.b)) ++accepted;  // valid by chance: fine, if rare
  }
  // lz4 has no checksum, so a flipped literal still decodes; most corruptions do not.
  EXPECT_LT(accepted, kRounds / 2);
}

TEST_P(CodecTest, EncodeAndDecodeObtainNoMemory) {
  // After init() the codec owns all the memory it will use. Check the two ways memory
  // could come in: libtmc's meta allocator and malloc. The test binary's malloc is
  // jemalloc when tmc_core pulls it in; its per-thread counters then see every call.
  using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
  auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  uint64_t* allocated = nullptr;
  if (mallctl != nullptr) {
    size_t len = sizeof(allocated);
    if (mallctl("thread.allocatedp", &allocated, &len, nullptr, 0) != 0) allocated = nullptr;
  }
  Page pages[4], back;
  for (int i = 0; i < 4; ++i) make_sample_page(kAllSampleKinds[i], i, pages[i].b);
  const size_t meta_before = base::meta_mapped_bytes();
  const uint64_t allocated_before = allocated != nullptr ? *allocated : 0;
  for (int i = 0; i < 1000; ++i) {
    Encoded e = codec_.encode(pages[i % 4].b, out_, sizeof(out_), kPageSize);
    ASSERT_EQ(e.kind, Encoded::Kind::kCompressed);
    ASSERT_TRUE(codec_.decode(out_, e.size, back.b));
  }
  EXPECT_EQ(meta_before, base::meta_mapped_bytes());
  if (allocated != nullptr) {
    EXPECT_EQ(allocated_before, *allocated) << "encode/decode called malloc";
  } else {
    GTEST_LOG_(INFO) << "jemalloc's counters are not available: malloc use not checked";
  }
}

TEST_P(CodecTest, ReinitSwitchesBackend) {
  Page page, back;
  make_sample_page(SampleKind::kJson, 3, page.b);
  ASSERT_TRUE(codec_.init(CodecKind::kLz4));
  EXPECT_STREQ("lz4", codec_.name());
  Encoded e = codec_.encode(page.b, out_, sizeof(out_), kMaxBlob);
  ASSERT_EQ(e.kind, Encoded::Kind::kCompressed);
  ASSERT_TRUE(codec_.decode(out_, e.size, back.b));
  EXPECT_EQ(0, memcmp(page.b, back.b, kPageSize));
}

INSTANTIATE_TEST_SUITE_P(Backends, CodecTest, ::testing::ValuesIn(kConfigs),
                         [](const ::testing::TestParamInfo<Config>& info) {
                           std::string n = info.param.name;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

TEST(CodecInitTest, ZstdLevels) {
  Page page, back;
  make_sample_page(SampleKind::kRedisHeap, 11, page.b);
  alignas(64) unsigned char out[kOutCapacity];
  uint32_t size1 = 0;
  for (int level : {1, 2, 3, 5, 9, 19}) {
    PageCodec c;
    ASSERT_TRUE(c.init(CodecKind::kZstd, level)) << level;
    EXPECT_GT(c.memory_bytes(), 0u);
    Encoded e = c.encode(page.b, out, sizeof(out), kMaxBlob);
    ASSERT_EQ(e.kind, Encoded::Kind::kCompressed) << level;
    if (level == 1) size1 = e.size;
    // Any level decodes any other's blobs.
    PageCodec d;
    ASSERT_TRUE(d.init(CodecKind::kZstd, 1));
    ASSERT_TRUE(d.decode(out, e.size, back.b)) << level;
    EXPECT_EQ(0, memcmp(page.b, back.b, kPageSize));
    if (level >= 9) {
      EXPECT_LE(e.size, size1) << level;
    }
  }
  PageCodec bad;
  EXPECT_FALSE(bad.init(CodecKind::kZstd, 0));
  EXPECT_FALSE(bad.init(CodecKind::kZstd, 99));
  EXPECT_FALSE(bad.ready());
  EXPECT_STREQ("none", bad.name());
}

TEST(CodecInitTest, UnreadyCodecRefusesSafely) {
  PageCodec c;
  Page page, back;
  alignas(64) unsigned char out[kOutCapacity];
  make_sample_page(SampleKind::kText, 2, page.b);
  EXPECT_EQ(c.encode(page.b, out, sizeof(out), kMaxBlob).kind, Encoded::Kind::kIncompressible);
  EXPECT_FALSE(c.decode(out, 100, back.b));
  memset(page.b, 0, sizeof(page.b));
  EXPECT_EQ(c.encode(page.b, out, sizeof(out), kMaxBlob).kind, Encoded::Kind::kSameFilled);
}

TEST(CodecInitTest, BlobsOfOneBackendDoNotDecodeAsPagesInTheOther) {
  PageCodec lz4, zstd;
  ASSERT_TRUE(lz4.init(CodecKind::kLz4));
  ASSERT_TRUE(zstd.init(CodecKind::kZstd, 1));
  Page page, back;
  alignas(64) unsigned char out[kOutCapacity];
  for (int seed = 0; seed < 50; ++seed) {
    make_sample_page(SampleKind::kRedisHeap, seed, page.b);
    Encoded a = lz4.encode(page.b, out, sizeof(out), kPageSize);
    ASSERT_EQ(a.kind, Encoded::Kind::kCompressed);
    EXPECT_FALSE(zstd.decode(out, a.size, back.b) && memcmp(page.b, back.b, kPageSize) == 0);
    Encoded b = zstd.encode(page.b, out, sizeof(out), kPageSize);
    ASSERT_EQ(b.kind, Encoded::Kind::kCompressed);
    EXPECT_FALSE(lz4.decode(out, b.size, back.b) && memcmp(page.b, back.b, kPageSize) == 0);
  }
}

}  // namespace
}  // namespace tmc::codec
