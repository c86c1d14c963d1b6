#include "mcsink/testing/process.h"

#include <fstream>

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

TEST(FreePort, GivesABindablePortOutsideTheEphemeralRange) {
  const int port = FreePort();
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
  // Outgoing connections take their local ports from ip_local_port_range.
  int low = 0;
  int high = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  if (low > 20000) {
    EXPECT_LT(port, low);
  }
}

}  // namespace
}  // namespace mcsink::testing
