// What ingest does with an acknowledgement naming FENCED failures (exactly-once: the writer
// refused a session holding the batch): the fenced ranges the consumer still owns are sent again
// under the same batch id, those of revoked partitions are left to their new owner, other failures
// still go to the failure policy, and the batch counts as acknowledged only once every part is.
#include "gtest/gtest.h"
#include "mcsink/ingest/ack_tracker.h"
#include "mcsink/ingest/fenced_batches.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/pipeline/failure_codes.h"

namespace mcsink::ingest {
namespace {

using Action = FencedBatches::Action;

constexpr uint64_t kBatch = 7;

v1::OffsetRange Range(int32_t partition, int64_t first, int64_t last, int64_t epoch) {
  v1::OffsetRange r;
  r.set_topic("t");
  r.set_partition(partition);
  r.set_first_offset(first);
  r.set_last_offset(last);
  r.set_epoch(epoch);
  return r;
}

v1::Ack AckWithFailures(
    const std::vector<std::pair<std::string, std::vector<v1::OffsetRange>>>& failures) {
  v1::Ack ack;
  ack.set_batch_id(kBatch);
  for (const auto& [code, ranges] : failures) {
    v1::BatchFailure* f = ack.add_failures();
    f->set_code(code);
    f->set_message("why " + code);
    for (const v1::OffsetRange& r : ranges) *f->add_ranges() = r;
  }
  return ack;
}

TEST(SplitFenced, FencedRangesAreSeparatedFromOtherFailures) {
  // Given an ack whose writer part was fenced and one record of which failed for its own reason
  const v1::Ack ack = AckWithFailures({{pipeline::kFenced, {Range(0, 0, 9, 3)}},
                                       {"ERROR_TOPIC_UNDELIVERABLE", {Range(0, 4, 4, 0)}},
                                       {pipeline::kFenced, {Range(1, 5, 6, 3)}}});
  // When it is split
  const SplitFailures split = SplitFenced(ack);
  // Then the fenced ranges are to be sent again and the other failure goes to the failure policy
  EXPECT_TRUE(split.any_fenced);
  ASSERT_EQ(split.fenced.size(), 2u);
  EXPECT_EQ(split.fenced[0].partition(), 0);
  EXPECT_EQ(split.fenced[0].epoch(), 3);
  EXPECT_EQ(split.fenced[1].partition(), 1);
  EXPECT_EQ(split.fenced_message, "why FENCED");
  ASSERT_EQ(split.others.size(), 1u);
  EXPECT_EQ(split.others[0].code(), "ERROR_TOPIC_UNDELIVERABLE");
}

TEST(SplitFenced, AckWithoutFencedFailuresGoesWhollyToTheFailurePolicy) {
  const SplitFailures split = SplitFenced(AckWithFailures({{pipeline::kWriterFailed, {}}}));
  EXPECT_FALSE(split.any_fenced);
  EXPECT_TRUE(split.fenced.empty());
  EXPECT_EQ(split.others.size(), 1u);
}

TEST(SplitFenced, FencedFailureNamingNoRangesIsStillFenced) {
  // Not a failure of the records: it must neither be dead-lettered nor acknowledge the batch.
  const SplitFailures split = SplitFenced(AckWithFailures({{pipeline::kFenced, {}}}));
  EXPECT_TRUE(split.any_fenced);
  EXPECT_TRUE(split.fenced.empty());
  EXPECT_TRUE(split.others.empty());
}

class OwnedRangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Batch 7 carried offsets 0..9 of partition 0 and 5..6 of partition 1.
    tracker_.Sent(kBatch, {{{"t", 0}, 0, 9}, {{"t", 1}, 5, 6}}, 100);
  }
  std::vector<v1::OffsetRange> Owned(std::vector<v1::OffsetRange> ranges) {
    return OwnedRanges(tracker_, kBatch, std::move(ranges),
                       [](const TopicPartition&) { return int64_t{3}; });
  }
  AckTracker tracker_;
};

TEST_F(OwnedRangesTest, RangesOfATrackedBatchUnderTheCurrentEpochAreOwned) {
  const std::vector<v1::OffsetRange> owned = Owned({Range(0, 2, 9, 3), Range(1, 5, 6, 3)});
  ASSERT_EQ(owned.size(), 2u);
  EXPECT_EQ(owned[0].first_offset(), 2);
  EXPECT_EQ(owned[0].last_offset(), 9);
  EXPECT_EQ(owned[1].partition(), 1);
}

TEST_F(OwnedRangesTest, RangesOfARevokedPartitionAreNotOwned) {
  // Given partition 0 was revoked since the batch was sent
  tracker_.Forget({"t", 0});
  // Then only partition 1's range is sent again
  const std::vector<v1::OffsetRange> owned = Owned({Range(0, 0, 9, 3), Range(1, 5, 6, 3)});
  ASSERT_EQ(owned.size(), 1u);
  EXPECT_EQ(owned[0].partition(), 1);
}

TEST_F(OwnedRangesTest, RangeConsumedUnderAnotherEpochIsNotOwned) {
  EXPECT_TRUE(Owned({Range(0, 0, 9, 2)}).empty());
}

TEST_F(OwnedRangesTest, RangeWithoutAnEpochTakesTheCurrentOne) {
  const std::vector<v1::OffsetRange> owned = Owned({Range(0, 0, 9, 0)});
  ASSERT_EQ(owned.size(), 1u);
  EXPECT_EQ(owned[0].epoch(), 3);
}

TEST_F(OwnedRangesTest, RangesOfAnotherBatchOrAnAcknowledgedOneAreNotOwned) {
  EXPECT_TRUE(OwnedRanges(tracker_, kBatch + 1, {Range(0, 0, 9, 3)}, [](const TopicPartition&) {
                return int64_t{3};
              }).empty());
  tracker_.Acked(kBatch);
  EXPECT_TRUE(Owned({Range(0, 0, 9, 3)}).empty());
}

TEST(FencedBatches, BatchNeverFencedIsAcknowledgedByItsAck) {
  FencedBatches fenced;
  EXPECT_TRUE(fenced.OnAck(kBatch));
  EXPECT_EQ(fenced.size(), 0u);
}

TEST(FencedBatches, OwnedBatchIsResentAndAcknowledgedByTheAnswerToTheResend) {
  FencedBatches fenced;
  EXPECT_EQ(fenced.OnFenced(kBatch, /*owned=*/true, /*with_others=*/false), Action::kResend);
  EXPECT_TRUE(fenced.OnAck(kBatch));
  EXPECT_EQ(fenced.size(), 0u);
}

TEST(FencedBatches, RevokedBatchIsLeftToTheNewOwner) {
  FencedBatches fenced;
  EXPECT_EQ(fenced.OnFenced(kBatch, /*owned=*/false, /*with_others=*/false), Action::kIgnore);
  EXPECT_EQ(fenced.size(), 0u);
}

TEST(FencedBatches, MixedAnswerIsAcknowledgedOnlyOnceTheResendAndTheOtherFailuresAreDone) {
  // Given an answer naming FENCED ranges and a failure of another code
  FencedBatches fenced;
  ASSERT_EQ(fenced.OnFenced(kBatch, /*owned=*/true, /*with_others=*/true), Action::kResend);
  // When the other failure is dead-lettered first, the batch is not yet acknowledged
  EXPECT_FALSE(fenced.OnAck(kBatch));
  // Then the answer to the re-send completes it
  EXPECT_TRUE(fenced.OnAck(kBatch));
}

TEST(FencedBatches, MixedAnswerWaitsForTheOtherFailuresWhenTheResendIsAnsweredFirst) {
  FencedBatches fenced;
  ASSERT_EQ(fenced.OnFenced(kBatch, /*owned=*/true, /*with_others=*/true), Action::kResend);
  EXPECT_FALSE(fenced.OnAck(kBatch));  // the re-send
  EXPECT_TRUE(fenced.OnAck(kBatch));   // the dead-lettered records
}

TEST(FencedBatches, ResendFencedAgainIsResentAgainWithoutCountingTheFirstAnswerTwice) {
  FencedBatches fenced;
  ASSERT_EQ(fenced.OnFenced(kBatch, true, false), Action::kResend);
  ASSERT_EQ(fenced.OnFenced(kBatch, true, false), Action::kResend);
  EXPECT_TRUE(fenced.OnAck(kBatch));
}

TEST(FencedBatches, GivesUpAfterTheMaximumResendsInARowAndNeverAcknowledges) {
  // Given a batch refused as FENCED every time it is sent
  FencedBatches fenced(/*max_resends=*/3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(fenced.OnFenced(kBatch, true, /*with_others=*/true), Action::kResend) << i;
    EXPECT_FALSE(fenced.OnAck(kBatch)) << "the other failures of answer " << i;
  }
  // Then the fourth refusal leaves it unacknowledged, whatever comes after
  EXPECT_EQ(fenced.OnFenced(kBatch, true, /*with_others=*/true), Action::kGiveUp);
  EXPECT_FALSE(fenced.OnAck(kBatch));
  EXPECT_EQ(fenced.OnFenced(kBatch, true, false), Action::kGiveUp);
  EXPECT_EQ(fenced.size(), 1u);
}

TEST(FencedBatches, RetainForgetsBatchesTheTrackerNoLongerHolds) {
  // Given a batch given up on, and one re-sent
  FencedBatches fenced(/*max_resends=*/0);
  ASSERT_EQ(fenced.OnFenced(1, true, false), Action::kGiveUp);
  FencedBatches resent;
  ASSERT_EQ(resent.OnFenced(2, true, false), Action::kResend);
  // When their partitions are revoked
  fenced.Retain([](uint64_t) { return false; });
  resent.Retain([](uint64_t id) { return id != 2; });
  // Then nothing is kept of them, and a late acknowledgement finds nothing to hold back
  EXPECT_EQ(fenced.size(), 0u);
  EXPECT_EQ(resent.size(), 0u);
  EXPECT_TRUE(fenced.OnAck(1));
}

}  // namespace
}  // namespace mcsink::ingest
