#include "base/log.h"

#include <gtest/gtest.h>

#include <string>

namespace tmc::log {
namespace {

TEST(Log, LineFormatsAndRespectsLevel) {
  set_level(Level::kWarn);
  testing::internal::CaptureStderr();
  warn().str("x=").u64(42).str(" y=").i64(-7).str(" h=").hex(255).flush();
  info().str("hidden").flush();
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "libtmc: x=42 y=-7 h=0xff\n");
}

TEST(Log, LongLinesAreTruncatedNotOverflowed) {
  std::string big(2000, 'a');
  testing::internal::CaptureStderr();
  warn().str(big.c_str()).flush();
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_LE(out.size(), 512u);
  EXPECT_EQ(out.back(), '\n');
}

TEST(Log, FormatBytes) {
  char buf[24];
  EXPECT_STREQ(format_bytes(0, buf, sizeof(buf)), "0 B");
  EXPECT_STREQ(format_bytes(1536, buf, sizeof(buf)), "1.5 KiB");
  EXPECT_STREQ(format_bytes(3ull << 30, buf, sizeof(buf)), "3.0 GiB");
}

}  // namespace
}  // namespace tmc::log
