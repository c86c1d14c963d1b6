#include "mcsink/testing/process.h"

#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::testing {
namespace {

TEST(ChildProcess, StopsWithSigtermAndKeepsItsOutput) {
  const std::string log = ::testing::TempDir() + "/child.log";
  std::remove(log.c_str());
  ASSERT_OK_AND_ASSIGN(ChildProcess child,
                       ChildProcess::Start({"/bin/sh", "-c", "echo $GREETING; exec sleep 30"}, log,
                                           {{"GREETING", "hello"}}));
  ASSERT_OK_AND_ASSIGN(std::string line, WaitForFileLine(log, absl::Seconds(10)));
  EXPECT_EQ(line, "hello");
  EXPECT_TRUE(child.Running());
  EXPECT_EQ(child.Stop(), -15);
  EXPECT_FALSE(child.Running());
}

TEST(ChildProcess, ReportsTheExitCodeAndAKill) {
  const std::string log = ::testing::TempDir() + "/child2.log";
  ASSERT_OK_AND_ASSIGN(ChildProcess done, ChildProcess::Start({"/bin/sh", "-c", "exit 3"}, log));
  EXPECT_EQ(done.Wait(absl::Seconds(10)), 3);
  ASSERT_OK_AND_ASSIGN(ChildProcess sleeper,
                       ChildProcess::Start({"/bin/sh", "-c", "exec sleep 30"}, log));
  sleeper.Kill();
  EXPECT_EQ(sleeper.Wait(absl::ZeroDuration()), -9);
}

TEST(FreePort, GivesABindablePort) {
  const int port = FreePort();
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
}

}  // namespace
}  // namespace mcsink::testing
