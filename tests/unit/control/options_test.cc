// The options parser: every type, its accepted spellings, its rejections and bounds.
#include "control/options.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace tmc::control {
namespace {

OptionValue parse_ok(OptionId id, const char* text) {
  OptionValue v;
  EXPECT_TRUE(parse_option(id, text, &v)) << option_info(id).env << "=" << text;
  return v;
}

bool parses(OptionId id, const char* text) {
  OptionValue v;
  return parse_option(id, text, &v);
}

TEST(Options, EveryDefaultParses) {
  for (int i = 0; i < kOptionCount; ++i) {
    auto id = static_cast<OptionId>(i);
    EXPECT_TRUE(parses(id, option_info(id).default_text)) << option_info(id).env;
    EXPECT_EQ(std::strncmp(option_info(id).env, "TMC_", 4), 0);
  }
}

TEST(Options, BoolSpellings) {
  for (const char* t : {"1", "true", "TRUE", "yes", "On", " on "}) EXPECT_EQ(parse_ok(OptionId::enable, t).value, 1u) << t;
  for (const char* f : {"0", "false", "No", "off"}) EXPECT_EQ(parse_ok(OptionId::enable, f).value, 0u) << f;
  for (const char* bad : {"", "maybe", "2", "yes please", "-1"}) EXPECT_FALSE(parses(OptionId::enable, bad)) << bad;
}

TEST(Options, SizesWithSuffixes) {
  EXPECT_EQ(parse_ok(OptionId::region_size, "512M").value, 512ull << 20);
  EXPECT_EQ(parse_ok(OptionId::region_size, "2G").value, 2ull << 30);
  EXPECT_EQ(parse_ok(OptionId::region_size, "2g").value, 2ull << 30);
  EXPECT_EQ(parse_ok(OptionId::region_size, "1.5G").value, 3ull << 29);
  EXPECT_EQ(parse_ok(OptionId::region_size, "1GiB").value, 1ull << 30);
  EXPECT_EQ(parse_ok(OptionId::region_size, "65536K").value, 64ull << 20);
  EXPECT_EQ(parse_ok(OptionId::region_size, "67108864").value, 64ull << 20);
  for (const char* bad : {"", "G", "12Q", "1..5G", "-1G", "1G2", "1 G B", "1.G"})
    EXPECT_FALSE(parses(OptionId::region_size, bad)) << bad;
}

TEST(Options, SizeBoundsAreEnforced) {
  EXPECT_FALSE(parses(OptionId::region_size, "1M"));      // below 64M
  EXPECT_FALSE(parses(OptionId::region_size, "2T"));      // above 1T
  EXPECT_FALSE(parses(OptionId::region_size, "99999999999999999999999G"));  // overflow
}

TEST(Options, Durations) {
  EXPECT_EQ(parse_ok(OptionId::stats_interval, "30s").value, 30'000'000'000ull);
  EXPECT_EQ(parse_ok(OptionId::stats_interval, "5m").value, 300'000'000'000ull);
  EXPECT_EQ(parse_ok(OptionId::stats_interval, "500ms").value, 500'000'000ull);
  EXPECT_EQ(parse_ok(OptionId::stats_interval, "1h").value, 3'600'000'000'000ull);
  EXPECT_EQ(parse_ok(OptionId::stats_interval, "2").value, 2'000'000'000ull);  // bare = seconds
  EXPECT_EQ(parse_ok(OptionId::stats_interval, "1.5s").value, 1'500'000'000ull);
  EXPECT_EQ(parse_ok(OptionId::stats_interval, "0").value, 0u);
  for (const char* bad : {"", "s", "5 minutes", "5d", "-3s"}) EXPECT_FALSE(parses(OptionId::stats_interval, bad)) << bad;
}

TEST(Options, EnumValues) {
  EXPECT_EQ(parse_ok(OptionId::log_level, "quiet").value, 0u);
  EXPECT_EQ(parse_ok(OptionId::log_level, "warn").value, 1u);
  EXPECT_EQ(parse_ok(OptionId::log_level, "INFO").value, 2u);
  EXPECT_EQ(parse_ok(OptionId::log_level, "debug").value, 3u);
  EXPECT_FALSE(parses(OptionId::log_level, "verbose"));
  EXPECT_FALSE(parses(OptionId::log_level, "war"));
}

TEST(Options, DescribeNamesWhatIsAccepted) {
  char buf[200];
  describe_accepted(OptionId::enable, buf, sizeof(buf));
  EXPECT_STREQ(buf, "1/true/yes/on or 0/false/no/off");
  describe_accepted(OptionId::region_size, buf, sizeof(buf));
  EXPECT_STREQ(buf, "a size such as 512M or 2G (64M to 1T)");
  describe_accepted(OptionId::log_level, buf, sizeof(buf));
  EXPECT_STREQ(buf, "one of quiet|warn|info|debug");
  describe_accepted(OptionId::stats_interval, buf, sizeof(buf));
  EXPECT_STREQ(buf, "a duration such as 500ms, 30s or 5m");
}

TEST(Options, FormatRoundTrips) {
  reset_options();
  char buf[64];
  ASSERT_TRUE(set_option(OptionId::region_size, "1.5G"));
  format_option(OptionId::region_size, buf, sizeof(buf));
  EXPECT_STREQ(buf, "1536M");
  ASSERT_TRUE(set_option(OptionId::stats_interval, "90s"));
  format_option(OptionId::stats_interval, buf, sizeof(buf));
  EXPECT_STREQ(buf, "90s");
  ASSERT_TRUE(set_option(OptionId::log_level, "debug"));
  format_option(OptionId::log_level, buf, sizeof(buf));
  EXPECT_STREQ(buf, "debug");
  EXPECT_FALSE(set_option(OptionId::region_size, "lots"));
  format_option(OptionId::region_size, buf, sizeof(buf));
  EXPECT_STREQ(buf, "1536M") << "a rejected value must leave the old one";
  reset_options();
}

TEST(Options, LoadFromEnvUsesDefaultForMalformedValue) {
  setenv("TMC_REGION_SIZE", "lots", 1);
  setenv("TMC_STATS_INTERVAL", "10s", 1);
  testing::internal::CaptureStderr();
  load_options_from_env();
  std::string err = testing::internal::GetCapturedStderr();
  unsetenv("TMC_REGION_SIZE");
  unsetenv("TMC_STATS_INTERVAL");
  EXPECT_EQ(option(OptionId::region_size), 1ull << 30);
  EXPECT_EQ(option(OptionId::stats_interval), 10'000'000'000ull);
  EXPECT_NE(err.find("TMC_REGION_SIZE=lots is not valid"), std::string::npos) << err;
  EXPECT_NE(err.find("a size such as 512M or 2G"), std::string::npos) << err;
  // One line per malformed variable, nothing about the valid one.
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  reset_options();
}

TEST(Options, Paths) {
  EXPECT_EQ(parse_ok(OptionId::file_dir, "/var/tmp").value, 8u);
  EXPECT_FALSE(parses(OptionId::file_dir, "var/tmp"));  // relative
  EXPECT_FALSE(parses(OptionId::file_dir, ""));
  EXPECT_FALSE(parses(OptionId::file_dir, std::string(kMaxPath, '/').c_str()));
  setenv("TMC_FILE_DIR", " /srv/tmc ", 1);
  load_options_from_env();
  EXPECT_STREQ(option_path(OptionId::file_dir), "/srv/tmc");
  char buf[64];
  format_option(OptionId::file_dir, buf, sizeof(buf));
  EXPECT_STREQ(buf, "/srv/tmc");
  EXPECT_FALSE(set_option(OptionId::file_dir, "/other")) << "a path is read once, at start";
  unsetenv("TMC_FILE_DIR");
  reset_options();
  EXPECT_STREQ(option_path(OptionId::file_dir), "/var/tmp");
}

TEST(Options, FindByName) {
  OptionId id;
  ASSERT_TRUE(find_option("TMC_ENABLE", &id));
  EXPECT_EQ(id, OptionId::enable);
  EXPECT_FALSE(find_option("TMC_NOPE", &id));
}

}  // namespace
}  // namespace tmc::control
