#include "mcsink/ingest/ack_tracker.h"

#include "gtest/gtest.h"

namespace mcsink::ingest {
namespace {

const TopicPartition kP0{"t", 0};
const TopicPartition kP1{"t", 1};

TEST(AckTracker, CommitsOnlyTheContiguousAcknowledgedPrefix) {
  AckTracker tracker;
  tracker.Sent(1, {{kP0, 0, 9}}, 100);
  tracker.Sent(2, {{kP0, 10, 19}}, 100);
  tracker.Sent(3, {{kP0, 20, 29}}, 100);

  EXPECT_TRUE(tracker.Acked(2));  // out of order: nothing committable yet
  EXPECT_TRUE(tracker.TakeCommittable().empty());

  EXPECT_TRUE(tracker.Acked(1));  // 1 and 2 now form the prefix
  EXPECT_EQ(tracker.TakeCommittable(), (std::map<TopicPartition, int64_t>{{kP0, 20}}));
  EXPECT_TRUE(tracker.TakeCommittable().empty()) << "taken once";
  EXPECT_FALSE(tracker.Drained(kP0));

  EXPECT_TRUE(tracker.Acked(3));
  EXPECT_EQ(tracker.TakeCommittable(), (std::map<TopicPartition, int64_t>{{kP0, 30}}));
  EXPECT_TRUE(tracker.Drained(kP0));
}

TEST(AckTracker, ABatchOverTwoPartitionsAdvancesBoth) {
  AckTracker tracker;
  tracker.Sent(1, {{kP0, 5, 7}, {kP1, 100, 140}}, 500);
  tracker.Sent(2, {{kP1, 141, 150}}, 50);
  EXPECT_EQ(tracker.in_flight_bytes(), 550);
  EXPECT_EQ(tracker.in_flight_batches(), 2);

  tracker.Acked(1);
  EXPECT_EQ(tracker.TakeCommittable(), (std::map<TopicPartition, int64_t>{{kP0, 8}, {kP1, 141}}));
  EXPECT_EQ(tracker.in_flight_bytes(), 50);
}

TEST(AckTracker, GapsInOffsetsDoNotBlockTheCommit) {
  // Transaction markers and compaction leave offsets that no record has.
  AckTracker tracker;
  tracker.Sent(1, {{kP0, 0, 9}}, 1);
  tracker.Sent(2, {{kP0, 12, 20}}, 1);
  tracker.Acked(1);
  tracker.Acked(2);
  EXPECT_EQ(tracker.TakeCommittable(), (std::map<TopicPartition, int64_t>{{kP0, 21}}));
}

TEST(AckTracker, UnknownAndRepeatedAcksAreIgnored) {
  AckTracker tracker;
  tracker.Sent(1, {{kP0, 0, 0}}, 10);
  EXPECT_FALSE(tracker.Acked(99));
  EXPECT_TRUE(tracker.Acked(1));
  EXPECT_FALSE(tracker.Acked(1));
  EXPECT_EQ(tracker.in_flight_bytes(), 0);
}

TEST(AckTracker, ForgettingARevokedPartitionDropsItsPendingBatches) {
  AckTracker tracker;
  tracker.Sent(1, {{kP0, 0, 9}}, 100);
  tracker.Sent(2, {{kP0, 10, 19}, {kP1, 0, 4}}, 100);
  tracker.Acked(1);
  tracker.Forget(kP0);
  EXPECT_TRUE(tracker.TakeCommittable().empty()) << "a revoked partition is not committed here";
  EXPECT_TRUE(tracker.Drained(kP0));
  EXPECT_EQ(tracker.in_flight_bytes(), 100) << "batch 2 still holds partition 1";

  tracker.Acked(2);
  EXPECT_EQ(tracker.TakeCommittable(), (std::map<TopicPartition, int64_t>{{kP1, 5}}));
  EXPECT_EQ(tracker.in_flight_bytes(), 0);
}

TEST(AckTracker, ABatchOnlyOfForgottenPartitionsReleasesItsBytes) {
  AckTracker tracker;
  tracker.Sent(1, {{kP0, 0, 9}}, 100);
  tracker.Forget(kP0);
  EXPECT_EQ(tracker.in_flight_bytes(), 0);
  EXPECT_EQ(tracker.in_flight_batches(), 0);
  EXPECT_FALSE(tracker.Acked(1));
}

TEST(AckTracker, ACapHoldsTheCommitBeforeAFailedRecord) {
  AckTracker tracker;
  tracker.Sent(1, {{kP0, 0, 9}, {kP1, 0, 9}}, 10);
  tracker.Sent(2, {{kP0, 10, 19}}, 10);
  tracker.Cap(kP0, 7);  // record 7 failed under the stop policy
  tracker.Acked(1);
  tracker.Acked(2);
  EXPECT_EQ(tracker.TakeCommittable(), (std::map<TopicPartition, int64_t>{{kP0, 7}, {kP1, 10}}));
}

TEST(AckTracker, ACapAlsoLowersAnUntakenCommit) {
  AckTracker tracker;
  tracker.Sent(1, {{kP0, 0, 9}}, 10);
  tracker.Acked(1);
  tracker.Cap(kP0, 3);
  EXPECT_EQ(tracker.TakeCommittable(), (std::map<TopicPartition, int64_t>{{kP0, 3}}));
}

}  // namespace
}  // namespace mcsink::ingest
