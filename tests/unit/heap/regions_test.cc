// RegionSet: the address space behind the managed heap.
#include "heap/regions.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace tmc::heap {
namespace {

constexpr size_t kRegion = 64 << 20;

bool is_zero(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != 0) return false;
  return true;
}

TEST(Regions, AllocationsAreAlignedDisjointAndInside) {
  static RegionSet set(kRegion);
  std::vector<std::pair<uintptr_t, size_t>> got;
  for (size_t align : {4096ul, 8192ul, 65536ul, 2ul << 20}) {
    for (size_t size : {4096ul, 12288ul, 1ul << 20}) {
      void* p = set.allocate(nullptr, size, align);
      ASSERT_NE(p, nullptr);
      auto a = reinterpret_cast<uintptr_t>(p);
      EXPECT_EQ(a % align, 0u);
      EXPECT_TRUE(set.contains(p, size));
      for (auto& [b, n] : got) EXPECT_TRUE(a + size <= b || b + n <= a) << "overlap";
      got.emplace_back(a, size);
    }
  }
  EXPECT_FALSE(set.contains(&got));  // a stack address is not managed
}

TEST(Regions, MemoryReadsZeroAndIsWritable) {
  static RegionSet set(kRegion);
  auto* p = static_cast<char*>(set.allocate(nullptr, 1 << 20, 4096));
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(is_zero(p, 1 << 20));
  memset(p, 0xab, 1 << 20);
  set.release(p, 1 << 20);
  // The released range is reused and must read as zero again.
  auto* q = static_cast<char*>(set.allocate(nullptr, 1 << 20, 4096));
  EXPECT_EQ(q, p);
  EXPECT_TRUE(is_zero(q, 1 << 20));
}

TEST(Regions, ExactAddressRequests) {
  static RegionSet set(kRegion);
  auto* a = static_cast<char*>(set.allocate(nullptr, 4096, 4096));
  ASSERT_NE(a, nullptr);
  // Right after the last allocation is free: jemalloc may ask for it to grow in place.
  EXPECT_EQ(set.allocate(a + 4096, 8192, 4096), a + 4096);
  // Already handed out: refused.
  EXPECT_EQ(set.allocate(a, 4096, 4096), nullptr);
  int on_stack;
  EXPECT_EQ(set.allocate(&on_stack, 4096, 4096), nullptr);
}

TEST(Regions, GrowsPastOneRegionAndServesHugeRequests) {
  static RegionSet set(kRegion);
  void* a = set.allocate(nullptr, kRegion - 4096, 4096);
  void* b = set.allocate(nullptr, 3 * kRegion, 4096);  // larger than a region
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(set.same_region(a, b));
  EXPECT_TRUE(set.contains(b, 3 * kRegion));
  RegionTotals t = set.totals();
  EXPECT_EQ(t.regions, 2u);
  EXPECT_EQ(t.handed, kRegion - 4096 + 3 * kRegion);
  EXPECT_GE(t.reserved, t.handed);
}

TEST(Regions, BadArguments) {
  static RegionSet set(kRegion);
  EXPECT_EQ(set.allocate(nullptr, 0, 4096), nullptr);
  EXPECT_EQ(set.allocate(nullptr, 4096, 3 * 4096), nullptr);  // not a power of two
}

TEST(Regions, MappingIsNamedForProcMaps) {
  static RegionSet set(kRegion);
  void* p = set.allocate(nullptr, 4096, 4096);
  ASSERT_NE(p, nullptr);
  FILE* f = fopen("/proc/self/maps", "r");
  ASSERT_NE(f, nullptr);
  char line[512];
  bool named = false;
  while (fgets(line, sizeof(line), f)) {
    uintptr_t lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && reinterpret_cast<uintptr_t>(p) >= lo &&
        reinterpret_cast<uintptr_t>(p) < hi)
      named = strstr(line, "tmc-heap") != nullptr;
  }
  fclose(f);
  if (!named) GTEST_SKIP() << "kernel without CONFIG_ANON_VMA_NAME";
  EXPECT_TRUE(named);
}

}  // namespace
}  // namespace tmc::heap
