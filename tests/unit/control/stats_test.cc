// The stats table, its sources and its JSON form.
#include "control/stats.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace tmc::control {
namespace {

TEST(Stats, JsonHasEveryFieldInOrder) {
  tmc_stats s{};
  s.rss_bytes = 123;
  s.fault_ns_p99 = 18446744073709551615ull;
  char buf[4096];
  size_t n = format_stats_json(s, buf, sizeof(buf));
  ASSERT_GT(n, 0u);
  std::string json(buf, n);
  EXPECT_EQ(json.front(), '{');
  EXPECT_NE(json.find("\"rss_bytes\": 123"), std::string::npos);
  EXPECT_NE(json.find("\"fault_ns_p99\": 18446744073709551615"), std::string::npos);
  size_t last = 0;
  for (int i = 0; i < kStatCount; ++i) {
    std::string key = std::string("\"") + stat_info(static_cast<StatId>(i)).name + "\"";
    size_t at = json.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    EXPECT_GE(at, last);
    last = at;
  }
}

TEST(Stats, JsonRefusesToTruncate) {
  tmc_stats s{};
  char buf[32];
  EXPECT_EQ(format_stats_json(s, buf, sizeof(buf)), 0u);
}

TEST(Stats, CountersAndSourcesMeetInTheSnapshot) {
  stat_add(StatId::evictions, 5);
  ASSERT_TRUE(register_stats_source([](tmc_stats* out) { out->heap_bytes = 42; }));
  tmc_stats s;
  stats_snapshot(&s);
  EXPECT_GE(s.evictions, 5u);
  EXPECT_EQ(s.heap_bytes, 42u);
  EXPECT_EQ(stat_field(s, StatId::heap_bytes), 42u);
}

}  // namespace
}  // namespace tmc::control
