// `mcsinkctl restart --only-failed` on the ingest side, on a real Kafka broker with a test
// transform: a partition stopped by the failure policy "stop" (the writer failed its records)
// stays stopped while the others move on; IngestService::RestartStoppedPartitions consumes it
// again from its committed offset under a new epoch (with the exactly-once gate: a new claim),
// and with downstream healthy again all its records are acknowledged and committed, while the
// partitions that were not stopped are not read again.
#include <map>
#include <set>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "ingest_fixture.h"
#include "mcsink/ingest/partition_gate.h"
#include "mcsink/pipeline/failure_codes.h"

namespace mcsink::ingest {
namespace {

constexpr int32_t kFailing = 0;  // the partition whose records the writer fails while `failing`

// Acknowledges every batch; while `failing`, the records of partition kFailing come back as a
// WRITER_FAILED failure, as transform answers when the writer failed them for good.
class FailingTransform : public TestTransform {
 public:
  void Answer(const v1::RecordBatch& batch, v1::Ack& ack) override {
    absl::MutexLock lock(&mu_);
    for (const v1::OffsetRange& r : batch.ranges()) {
      if (r.partition() == kFailing) epochs_.insert(r.epoch());
      if (r.partition() != kFailing || !failing_) continue;
      v1::BatchFailure* f = ack.add_failures();
      f->set_code(pipeline::kWriterFailed);
      f->set_message("writing partition 'pt=x' failed permanently: PERMISSION_DENIED");
      *f->add_ranges() = r;
    }
    for (const v1::KafkaRecord& r : batch.records()) ++reads_[{r.partition(), r.offset()}];
  }
  void Heal() {
    absl::MutexLock lock(&mu_);
    failing_ = false;
  }
  // How many times each (partition, offset) came downstream.
  std::map<std::pair<int32_t, int64_t>, int> reads() {
    absl::MutexLock lock(&mu_);
    return reads_;
  }
  // The epochs of partition kFailing's ranges.
  std::set<int64_t> epochs() {
    absl::MutexLock lock(&mu_);
    return epochs_;
  }

 private:
  absl::Mutex mu_;
  bool failing_ ABSL_GUARDED_BY(mu_) = true;
  std::map<std::pair<int32_t, int64_t>, int> reads_ ABSL_GUARDED_BY(mu_);
  std::set<int64_t> epochs_ ABSL_GUARDED_BY(mu_);
};

// Claims like the exactly-once journal: each claim of a partition is a new, larger epoch; nothing
// is written yet.
class FakeGate : public PartitionGate {
 public:
  absl::StatusOr<std::map<TopicPartition, PartitionClaim>> Claim(
      const std::vector<TopicPartition>& partitions) override {
    absl::MutexLock lock(&mu_);
    std::map<TopicPartition, PartitionClaim> claims;
    for (const TopicPartition& tp : partitions) {
      claims[tp].epoch = ++last_epoch_;
      epochs_[tp.partition].push_back(last_epoch_);
    }
    return claims;
  }
  // The epochs each partition was claimed with, in order.
  std::map<int32_t, std::vector<int64_t>> epochs() {
    absl::MutexLock lock(&mu_);
    return epochs_;
  }

 private:
  absl::Mutex mu_;
  int64_t last_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int32_t, std::vector<int64_t>> epochs_ ABSL_GUARDED_BY(mu_);
};

class IngestRestartTest : public IngestServiceFixture {
 protected:
  IngestRestartTest() : IngestServiceFixture("ingest-restart", /*partitions=*/3) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(IngestServiceFixture::SetUp());
    ASSERT_NO_FATAL_FAILURE(StartTransform(&transform_));
    ASSERT_NO_FATAL_FAILURE(Configure(v1::FAILURE_POLICY_STOP, /*dead_letter_partitions=*/1));
    // One consumer (the guide's 6 would join the group one after another): a rebalance among
    // the test's own consumers re-claims every partition, which would blur what the restart
    // alone did.
    config_.set_concurrency(1);
  }

  // `gate`: exactly-once claims (null: at-least-once).
  void Start(PartitionGate* gate) {
    IngestServiceOptions options = ServiceOptions();
    options.tuning.gate = gate;
    StartService(options);
  }

  FailingTransform transform_;
  FakeGate gate_;
};

TEST_F(IngestRestartTest, RestartReadsOnlyTheStoppedPartitionAgainFromItsCommittedOffset) {
  // Given 20 records in each of 3 partitions, and the writer failing partition 0's records
  Start(/*gate=*/nullptr);
  for (int32_t p = 0; p < 3; ++p) Produce(p, 20);
  // Then partition 0 stops at its first record while the others are committed
  EXPECT_EQ(WaitForStopped(1), (std::map<int32_t, int64_t>{{kFailing, 0}}));
  std::map<int32_t, int64_t> committed = WaitForCommitted({{1, 20}, {2, 20}});
  EXPECT_EQ(committed[1], 20);
  EXPECT_EQ(committed[2], 20);
  EXPECT_EQ(Status(kFailing, v1::PARTITION_STATE_STOPPED).state(), v1::PARTITION_STATE_STOPPED);
  // And while it is stopped, the others move on and it is not read any further
  for (int32_t p = 0; p < 3; ++p) Produce(p, 5);
  committed = WaitForCommitted({{1, 25}, {2, 25}});
  EXPECT_EQ(committed[1], 25);
  EXPECT_EQ(committed[2], 25);
  EXPECT_LE(committed[kFailing], 0) << "nothing of the stopped partition is committed";
  EXPECT_FALSE(transform_.reads().contains({kFailing, 20}))
      << "records produced after the stop are not consumed";
  const std::set<int64_t> epochs_before = transform_.epochs();
  const std::map<std::pair<int32_t, int64_t>, int> reads_before = transform_.reads();

  // When downstream is healthy again and the stopped partitions are restarted
  transform_.Heal();
  const std::vector<TopicPartition> restarted = service_->RestartStoppedPartitions();

  // Then exactly partition 0 restarts, is read once more from offset 0 and committed to its end
  EXPECT_EQ(restarted, (std::vector<TopicPartition>{{topic_, kFailing}}));
  committed = WaitForCommitted({{kFailing, 25}, {1, 25}, {2, 25}});
  EXPECT_EQ(committed[kFailing], 25);
  EXPECT_TRUE(WaitForStopped(0).empty());
  std::map<std::pair<int32_t, int64_t>, int> reads = transform_.reads();
  for (int64_t offset = 0; offset < 25; ++offset) {
    const std::pair<int32_t, int64_t> record{kFailing, offset};
    const int before = reads_before.contains(record) ? reads_before.at(record) : 0;
    EXPECT_EQ(reads[record], before + 1) << "partition 0 offset " << offset;
  }
  // And the partitions that were not stopped are not read again
  for (int32_t p = 1; p < 3; ++p) {
    for (int64_t offset = 0; offset < 25; ++offset) {
      EXPECT_EQ((reads[{p, offset}]), 1) << "partition " << p << " offset " << offset;
    }
  }
  // And the new batches carry a new epoch, so later stages can tell them from the old ones
  const std::set<int64_t> epochs_after = transform_.epochs();
  ASSERT_FALSE(epochs_before.empty());
  EXPECT_GT(*epochs_after.rbegin(), *epochs_before.rbegin());
  // And the status topic says running again
  EXPECT_EQ(Status(kFailing, v1::PARTITION_STATE_RUNNING).state(), v1::PARTITION_STATE_RUNNING);
  // And a second restart finds nothing stopped
  EXPECT_TRUE(service_->RestartStoppedPartitions().empty());
}

TEST_F(IngestRestartTest, WithTheExactlyOnceGateTheRestartedPartitionIsClaimedAgain) {
  // Given exactly-once claims, and partition 0 stopped by the writer's failure
  Start(&gate_);
  for (int32_t p = 0; p < 3; ++p) Produce(p, 10);
  EXPECT_EQ(WaitForStopped(1), (std::map<int32_t, int64_t>{{kFailing, 0}}));
  EXPECT_EQ(WaitForCommitted({{1, 10}, {2, 10}}).at(1), 10);
  const std::map<int32_t, std::vector<int64_t>> claimed_before = gate_.epochs();
  ASSERT_EQ(claimed_before.at(kFailing).size(), 1u);
  // When downstream is healthy again and the stopped partitions are restarted
  transform_.Heal();
  ASSERT_EQ(service_->RestartStoppedPartitions().size(), 1u);
  // Then partition 0 is committed to its end
  EXPECT_EQ(WaitForCommitted({{kFailing, 10}}).at(kFailing), 10);
  // And it alone was claimed again (a new FENCE), and its new batches carry the new epoch
  const std::map<int32_t, std::vector<int64_t>> claimed = gate_.epochs();
  ASSERT_EQ(claimed.at(kFailing).size(), 2u);
  EXPECT_EQ(claimed.at(1), claimed_before.at(1));
  EXPECT_EQ(claimed.at(2), claimed_before.at(2));
  const int64_t new_epoch = claimed.at(kFailing)[1];
  EXPECT_GT(new_epoch, claimed.at(kFailing)[0]);
  EXPECT_TRUE(transform_.epochs().contains(new_epoch));
  EXPECT_EQ(*transform_.epochs().rbegin(), new_epoch);
}

}  // namespace
}  // namespace mcsink::ingest
