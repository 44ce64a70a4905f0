// Generated values: reproducible from (seed, key, version), different across versions,
// within the size range, of the type the key says, and not filler.
#include "values.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "options.h"

namespace tmc::loadgen {
namespace {

TEST(Values, ReproducibleAndVersioned) {
  ValueGen g(1, TypeMix{}, SizeRange{});
  Value a, b;
  std::string fa, fb;
  for (uint64_t k = 0; k < 500; ++k) {
    g.generate(k, 3, &a);
    g.generate(k, 3, &b);
    a.flatten(&fa);
    b.flatten(&fb);
    ASSERT_EQ(fa, fb) << k;
    ASSERT_EQ(a.type, g.type_of(k));
    g.generate(k, 4, &b);
    b.flatten(&fb);
    EXPECT_NE(fa, fb) << k;
  }
}

TEST(Values, SizesTypesAndContent) {
  ValueGen g(7, TypeMix{}, SizeRange{100, 4096});
  Value v;
  std::string flat;
  int types[3] = {0, 0, 0};
  size_t total = 0;
  const int n = 4000;
  for (uint64_t k = 0; k < n; ++k) {
    g.generate(k, 1, &v);
    ++types[static_cast<int>(v.type)];
    if (v.type == KeyType::kString) {
      EXPECT_LE(v.str.size(), 4096u);
      EXPECT_GE(v.str.size(), 60u) << k;
    }
    if (v.type == KeyType::kHash) {
      std::set<std::string> names;
      for (const auto& f : v.fields) EXPECT_TRUE(names.insert(f.first).second) << "duplicate field " << f.first;
    }
    v.flatten(&flat);
    EXPECT_EQ(flat.find(std::string(16, '\0')), std::string::npos);
    total += v.bytes();
  }
  EXPECT_NEAR(types[0] / static_cast<double>(n), 0.65, 0.03);
  EXPECT_NEAR(types[1] / static_cast<double>(n), 0.20, 0.03);
  EXPECT_NEAR(types[2] / static_cast<double>(n), 0.15, 0.03);
  const double mean = static_cast<double>(total) / n;
  EXPECT_GT(mean, 700);
  EXPECT_LT(mean, 1800);
}

TEST(Values, ParseRejectsBadInput) {
  TypeMix t;
  SizeRange s;
  std::string err;
  EXPECT_TRUE(parse_types("string:1,hash:0,list:0", &t, &err));
  EXPECT_FALSE(parse_types("blob:3", &t, &err));
  EXPECT_FALSE(parse_types("string:0", &t, &err));
  EXPECT_FALSE(parse_types("string", &t, &err));
  EXPECT_TRUE(parse_sizes("1000", &s, &err));
  EXPECT_EQ(s.min, 1000u);
  EXPECT_EQ(s.max, 1000u);
  EXPECT_TRUE(parse_sizes("100-200", &s, &err));
  EXPECT_FALSE(parse_sizes("200-100", &s, &err));
  EXPECT_FALSE(parse_sizes("8", &s, &err));
  EXPECT_FALSE(parse_sizes("x-y", &s, &err));
}

// --distinct N: every value is one of N contents (per key type), reproducible, the same
// bytes for every key and version that hold it, of the key's type; writes draw contents too.
TEST(Values, DistinctContents) {
  ValueGen g(3, TypeMix{100, 0, 0}, SizeRange{4096, 4096}, 64);
  ASSERT_EQ(g.distinct(), 64u);
  std::map<uint32_t, std::string> by_content;
  Value v, again;
  std::string flat, flat_again;
  int changed = 0;
  const uint64_t n = 3000;
  for (uint64_t k = 0; k < n; ++k) {
    for (uint32_t ver = 1; ver <= 3; ++ver) {
      g.generate(k, ver, &v);
      ASSERT_EQ(v.type, KeyType::kString);
      v.flatten(&flat);
      EXPECT_LE(flat.size(), 4096u);
      EXPECT_GE(flat.size(), 1024u) << k;
      g.generate(k, ver, &again);
      again.flatten(&flat_again);
      ASSERT_EQ(flat, flat_again) << k << " v" << ver;
      const uint32_t c = g.content_of(k, ver);
      ASSERT_LT(c, 64u);
      auto [it, fresh] = by_content.emplace(c, flat);
      if (!fresh) {
        ASSERT_EQ(it->second, flat) << "content " << c << " differs for key " << k;
      }
    }
    changed += g.content_of(k, 1) != g.content_of(k, 2);
  }
  EXPECT_EQ(by_content.size(), 64u);
  std::set<std::string> unique;
  for (const auto& [c, s] : by_content) unique.insert(s);
  EXPECT_EQ(unique.size(), 64u) << "two content indexes with the same bytes";
  EXPECT_GT(changed, static_cast<int>(n * 9 / 10)) << "a new version should mostly bring another content";

  // The default mix: N contents per type, each of the key's type.
  ValueGen m(3, TypeMix{}, SizeRange{}, 8);
  std::set<std::string> per_type[3];
  for (uint64_t k = 0; k < 2000; ++k) {
    m.generate(k, 1, &v);
    ASSERT_EQ(v.type, m.type_of(k)) << k;
    v.flatten(&flat);
    per_type[static_cast<int>(v.type)].insert(flat);
  }
  for (const auto& s : per_type) EXPECT_EQ(s.size(), 8u);

  // Without --distinct (or with 0) the values are the ones every other run generates.
  ValueGen plain(5, TypeMix{}, SizeRange{}), zero(5, TypeMix{}, SizeRange{}, 0);
  for (uint64_t k = 0; k < 200; ++k) {
    plain.generate(k, 2, &v);
    zero.generate(k, 2, &again);
    v.flatten(&flat);
    again.flatten(&flat_again);
    ASSERT_EQ(flat, flat_again);
    EXPECT_EQ(zero.content_of(k, 2), 0u);
  }
}

TEST(Values, DistinctOption) {
  auto parse = [](std::vector<std::string> args, Config* cfg) {
    args.insert(args.begin(), "tmc_loadgen");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    bool exit_now = false;
    const int rc = parse_args(static_cast<int>(argv.size()), argv.data(), cfg, &exit_now);
    return exit_now ? rc : -1;  // -1: parsed, go on
  };
  Config cfg;
  EXPECT_EQ(parse({"--ratio"}, &cfg), -1);
  EXPECT_EQ(cfg.distinct, 0u);
  EXPECT_EQ(parse({"--ratio", "--distinct", "64"}, &cfg), -1);
  EXPECT_EQ(cfg.distinct, 64u);
  Config bad;
  EXPECT_EQ(parse({"--ratio", "--distinct", "0"}, &bad), 2);
  EXPECT_EQ(parse({"--ratio", "--distinct", "x"}, &bad), 2);
  EXPECT_EQ(parse({"--ratio", "--distinct", "2000000"}, &bad), 2);
}

}  // namespace
}  // namespace tmc::loadgen
