#include "mcsink/common/shutdown.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace mcsink {
namespace {

TEST(Shutdown, ReturnsTheSignalOnceRaised) {
  BlockShutdownSignals();
  ASSERT_EQ(raise(SIGTERM), 0);  // blocked: stays pending instead of ending the test
  EXPECT_EQ(WaitForShutdownSignal(absl::Seconds(5)), SIGTERM);
}

TEST(Shutdown, TimesOutWithoutASignal) {
  BlockShutdownSignals();
  EXPECT_EQ(WaitForShutdownSignal(absl::Milliseconds(20)), std::nullopt);
}

}  // namespace
}  // namespace mcsink
