// The fault suite (label `fault`): exactly-once into MaxCompute under crashes and outages. Each
// test runs one or more fault plans (see fault_harness.h) and expects every record in the table
// exactly once with its payload, and every poisoned record in the error topic exactly once.
//
// The named tests are the CI subset: each covers a family of faults on a fixed timeline.
// RandomizedRunsDeliverExactlyOnce draws MCSINK_FAULT_RUNS plans (default 1) from seeds
// MCSINK_FAULT_SEED, +1, +2, ... (default: from the clock); every run prints its seed, what it
// injected and when, and its counts. Rerun one with MCSINK_FAULT_SEED=<seed> MCSINK_FAULT_RUNS=1.
#include <filesystem>
#include <iostream>

#include "fault_harness.h"
#include "gtest/gtest.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::fault {
namespace {

class FaultSuite : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    private_broker_.reset();
    // Gone when every run passed (their directories are removed); a failed run's logs stay.
    std::error_code ignored;
    std::filesystem::remove(Dir(), ignored);
  }

  // The shared `kafka` fixture, or, for a plan that restarts the broker, a private one started
  // once per test process; null (with a failure recorded) when it cannot be had.
  KafkaBroker* BrokerFor(const FaultPlan& plan) {
    if (plan.NeedsPrivateBroker()) {
      if (private_broker_ == nullptr) {
        auto broker = KafkaBroker::StartPrivate(Dir() + "/kafka");
        EXPECT_OK(broker);
        if (broker.ok()) private_broker_ = *std::move(broker);
      }
      return private_broker_.get();
    }
    if (fixture_broker_ == nullptr) {
      auto broker = KafkaBroker::Fixture();
      EXPECT_OK(broker);
      if (broker.ok()) fixture_broker_ = *std::move(broker);
    }
    return fixture_broker_.get();
  }

  static std::string Dir() {
    static const std::string dir =
        ::testing::TempDir() + "/" + mcsink::testing::UniqueTopicName("fault");
    return dir;
  }

  // Runs `plan` and expects exactly-once; the report's lines say what went wrong.
  void ExpectExactlyOnce(const FaultPlan& plan) {
    KafkaBroker* broker = BrokerFor(plan);
    if (broker == nullptr) return;
    const RunReport r = ExecutePlan(plan, *broker, absl::StrCat(Dir(), "/run-", plan.seed));
    SCOPED_TRACE(absl::StrCat("seed ", plan.seed, ": ", r.Summary()));
    EXPECT_TRUE(r.caught_up) << "the pipeline did not commit every offset within 3 minutes";
    EXPECT_EQ(r.duplicates, 0) << "rows written more than once";
    EXPECT_EQ(r.missing, 0) << "records never written";
    EXPECT_EQ(r.wrong, 0) << "rows of another topic, an unknown offset, or the wrong payload";
    EXPECT_EQ(r.distinct, r.expected_rows);
    EXPECT_EQ(r.rows, r.expected_rows);
    EXPECT_EQ(r.error_duplicates, 0) << "poisoned records in the error topic more than once";
    EXPECT_EQ(r.error_missing, 0) << "poisoned records missing from the error topic";
    EXPECT_EQ(r.error_wrong, 0) << "error records for records that were not poisoned";
    for (const std::string& problem : r.problems) ADD_FAILURE() << problem;
  }

  static FaultEvent At(double seconds, FaultKind kind, int variant = 0, double hold = 0.5) {
    return {absl::Seconds(seconds), kind, variant, absl::Seconds(hold)};
  }

  static inline std::unique_ptr<KafkaBroker> private_broker_;
  std::unique_ptr<KafkaBroker> fixture_broker_;
};

TEST_F(FaultSuite, SplitModeSurvivesKillsOfEachServiceMidBlockMidCommitAndAfterCommit) {
  FaultPlan plan;
  plan.seed = 1001;
  plan.mode = Mode::kSplit;
  plan.events = {
      At(1.5, FaultKind::kKillTransform),
      At(3, FaultKind::kKillWriterMidCommit, /*after the commit=*/1), At(5, FaultKind::kKillIngest),
      At(6.5, FaultKind::kKillWriterMidCommit, /*in flight=*/0), At(8, FaultKind::kKillWriter)};
  ExpectExactlyOnce(plan);
}

TEST_F(FaultSuite, AllInOneSurvivesKillsAtRandomMomentsAndBetweenCommitAndJournal) {
  FaultPlan plan;
  plan.seed = 1002;
  plan.mode = Mode::kAllInOne;
  plan.events = {At(1.5, FaultKind::kKillAllInOne), At(3, FaultKind::kKillWriterMidCommit, 1),
                 At(5, FaultKind::kKillWriterMidCommit, 0), At(6.5, FaultKind::kKillAllInOne)};
  ExpectExactlyOnce(plan);
}

TEST_F(FaultSuite, MclocalErrorsDropsSlowCommitsExpiredSessionsAndCrashes) {
  FaultPlan plan;
  plan.seed = 1003;
  plan.mode = Mode::kSplit;
  plan.events = {At(1, FaultKind::kMclocalErrors, 0, 1.5),
                 At(2.7, FaultKind::kMclocalErrors, /*commit published, then 500=*/2, 1.5),
                 At(4.4, FaultKind::kMclocalLostCommitAnswer),
                 At(5.5, FaultKind::kMclocalDrops, 2, 1.5),
                 At(7.2, FaultKind::kMclocalSlowCommits, 0, 1),
                 At(10.4, FaultKind::kMclocalExpiredSessions, 0),
                 At(11.5, FaultKind::kMclocalExpiredSessions, 1),
                 At(12.6, FaultKind::kCrashMclocalMidCommit, 0),
                 At(14, FaultKind::kCrashMclocalMidCommit, 1),
                 At(15.5, FaultKind::kKillMclocal, 0, 1)};
  ExpectExactlyOnce(plan);
}

TEST_F(FaultSuite, BrokerRestartAndRebalancesMidStream) {
  FaultPlan plan;
  plan.seed = 1004;
  plan.mode = Mode::kSplit;
  plan.events = {At(1, FaultKind::kRebalance, /*leaves cleanly=*/0, 4),
                 At(6, FaultKind::kBrokerRestart, /*SIGTERM=*/0),
                 At(8, FaultKind::kRebalance, /*killed=*/1, 3)};
  ExpectExactlyOnce(plan);
}

TEST_F(FaultSuite, RandomizedRunsDeliverExactlyOnce) {
  const int runs = RunsFromEnv(1);
  const uint64_t seed = SeedFromEnv();
  std::cout << "[fault] " << runs << " randomized run(s) from seed " << seed
            << " (MCSINK_FAULT_SEED=" << seed << " MCSINK_FAULT_RUNS=" << runs << ")" << std::endl;
  for (int i = 0; i < runs; ++i) {
    SCOPED_TRACE(absl::StrCat("run ", i + 1, " of ", runs));
    ExpectExactlyOnce(RandomPlan(seed + i));
  }
}

}  // namespace
}  // namespace mcsink::fault
