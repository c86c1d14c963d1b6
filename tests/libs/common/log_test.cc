#include "mcsink/common/log.h"

#include "gtest/gtest.h"

namespace mcsink::log {
namespace {

TEST(Log, ParsesLevelNamesCaseInsensitively) {
  Level level = Level::kInfo;
  EXPECT_TRUE(ParseLevel("DEBUG", &level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_TRUE(ParseLevel("warn", &level));
  EXPECT_EQ(level, Level::kWarning);
  EXPECT_FALSE(ParseLevel("loud", &level));
  EXPECT_EQ(level, Level::kWarning);
}

TEST(Log, WritesOneLineWithLevelAndLocationAndSkipsBelowMinimum) {
  SetMinLevel(Level::kInfo);
  ::testing::internal::CaptureStderr();
  MCSINK_LOG(DEBUG) << "hidden";
  MCSINK_LOG(WARNING) << "disk " << 93 << "% full";
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find(" WARN log_test.cc:"), std::string::npos) << out;
  EXPECT_NE(out.find("] disk 93% full\n"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

}  // namespace
}  // namespace mcsink::log
