// Generated values: reproducible from (seed, key, version), different across versions,
// within the size range, of the type the key says, and not filler.
#include "values.h"

#include <gtest/gtest.h>

#include <set>

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

}  // namespace
}  // namespace tmc::loadgen
