// The pure pieces of the transform service that feed the dead-letter path and the latency
// metric: which offset ranges a RowBatch's rows cover, and a batch's oldest record timestamp.
#include <vector>

#include "gtest/gtest.h"
#include "mcsink/transform/transform_service.h"

namespace mcsink::transform {
namespace {

// Records of topic "t" as (partition, offset) pairs, in the order given.
v1::RecordBatch Batch(const std::vector<std::pair<int32_t, int64_t>>& records) {
  v1::RecordBatch batch;
  batch.set_topic("t");
  for (const auto& [partition, offset] : records) {
    v1::KafkaRecord* r = batch.add_records();
    r->set_partition(partition);
    r->set_offset(offset);
  }
  return batch;
}

struct Range {
  int32_t partition;
  int64_t first;
  int64_t last;
  bool operator==(const Range&) const = default;
};

std::vector<Range> Ranges(const google::protobuf::RepeatedPtrField<v1::OffsetRange>& ranges) {
  std::vector<Range> out;
  for (const v1::OffsetRange& r : ranges) {
    EXPECT_EQ(r.topic(), "t");
    out.push_back({r.partition(), r.first_offset(), r.last_offset()});
  }
  return out;
}

TEST(RangesOf, EveryRecordIncludedGivesOneRangePerPartition) {
  // Given records of two partitions, interleaved
  const v1::RecordBatch batch = Batch({{0, 10}, {1, 5}, {0, 11}, {1, 6}, {0, 12}});
  // When all are included
  const auto ranges = RangesOf(batch, std::vector<bool>(5, true));
  // Then each partition is one range from its first to its last record
  EXPECT_EQ(Ranges(ranges), (std::vector<Range>{{0, 10, 12}, {1, 5, 6}}));
}

TEST(RangesOf, AnExcludedRecordSplitsItsPartitionOnly) {
  // Given records 10..13 of partition 0 and 5..6 of partition 1
  const v1::RecordBatch batch = Batch({{0, 10}, {0, 11}, {1, 5}, {0, 12}, {1, 6}, {0, 13}});
  // When offset 11 of partition 0 went elsewhere (the error topic)
  const auto ranges = RangesOf(batch, {true, false, true, true, true, true});
  // Then partition 0 is cut around it and partition 1 stays whole
  EXPECT_EQ(Ranges(ranges), (std::vector<Range>{{0, 10, 10}, {1, 5, 6}, {0, 12, 13}}));
}

TEST(RangesOf, ExcludedTailAndGapsInOffsets) {
  // Given offsets with a gap (compaction) and a tail held back by a stop
  const v1::RecordBatch batch = Batch({{2, 100}, {2, 105}, {2, 106}, {2, 107}});
  // When the last two are not written
  const auto ranges = RangesOf(batch, {true, true, false, false});
  // Then the range spans the gap (no record is in it) but not the held-back tail
  EXPECT_EQ(Ranges(ranges), (std::vector<Range>{{2, 100, 105}}));
}

TEST(RangesOf, EachRangeKeepsTheEpochItsPartitionWasConsumedUnder) {
  // Given records of partitions 0 and 1, consumed under epochs 7 and 9
  v1::RecordBatch batch = Batch({{0, 10}, {1, 5}, {0, 11}, {0, 12}});
  v1::OffsetRange* r0 = batch.add_ranges();
  r0->set_partition(0);
  r0->set_epoch(7);
  v1::OffsetRange* r1 = batch.add_ranges();
  r1->set_partition(1);
  r1->set_epoch(9);
  // When offset 11 went elsewhere
  const auto ranges = RangesOf(batch, {true, true, false, true});
  // Then every written range carries its partition's epoch (ingest re-sends a FENCED range only
  // under the epoch it still owns)
  ASSERT_EQ(ranges.size(), 3);
  EXPECT_EQ(ranges[0].epoch(), 7);
  EXPECT_EQ(ranges[1].epoch(), 9);
  EXPECT_EQ(ranges[2].epoch(), 7);
}

TEST(RangesOf, NothingIncludedGivesNoRange) {
  EXPECT_TRUE(RangesOf(Batch({{0, 1}, {0, 2}}), {false, false}).empty());
}

TEST(MinTimestampMs, OldestTimestampedRecordIgnoringThoseWithout) {
  // Given records with timestamps 3000 and 2000, and one without a timestamp
  v1::RecordBatch batch = Batch({{0, 1}, {0, 2}, {0, 3}});
  batch.mutable_records(0)->set_timestamp_ms(3000);
  batch.mutable_records(0)->set_timestamp_type(v1::KafkaRecord::TIMESTAMP_CREATE_TIME);
  batch.mutable_records(1)->set_timestamp_ms(1000);
  batch.mutable_records(1)->set_timestamp_type(v1::KafkaRecord::TIMESTAMP_NONE);
  batch.mutable_records(2)->set_timestamp_ms(2000);
  batch.mutable_records(2)->set_timestamp_type(v1::KafkaRecord::TIMESTAMP_LOG_APPEND_TIME);
  // Then the minimum is over the timestamped ones
  EXPECT_EQ(MinTimestampMs(batch), 2000);
}

TEST(MinTimestampMs, NoTimestampsGivesZero) { EXPECT_EQ(MinTimestampMs(Batch({{0, 1}})), 0); }

}  // namespace
}  // namespace mcsink::transform
