// The failure policy "stop" and a partition's restart: a stop is recorded with the epoch of the
// batch whose record failed, holds for batches of that epoch, and is cleared by a batch of the
// partition under a higher epoch (ingest restarted the partition, or a new owner claimed it).
// The writer is an in-process test server; under "stop" no record goes to the error topic, so
// the broker (whose address leads nowhere) is never used.
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/testing/transform_test_support.h"
#include "mcsink/transform/transform_service.h"
#include "prometheus/registry.h"

namespace mcsink::transform {
namespace {

class TransformStopEpochTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(writer_server_, GrpcServer::Start({.services = {{&writer_, "w"}}}));
    v1::ConnectorConfig config;
    config.set_mode(v1::MODE_VALUE);
    config.set_format(v1::FORMAT_CSV);
    config.set_failure_policy(v1::FAILURE_POLICY_STOP);
    ASSERT_OK_AND_ASSIGN(
        v1::ConnectorConfig normalized,
        config::Normalize(testing::TestConnector(config, "stops", "orders", "127.0.0.1:1")));

    TransformServiceOptions options;
    options.connector = normalized;
    options.schema = schema_;
    options.kafka_properties = {{"bootstrap.servers", "127.0.0.1:1"}};
    options.writer_channel = writer_server_->InProcessChannel();
    ASSERT_OK_AND_ASSIGN(transform_, testing::TransformUnderTest::Start(options, registry_));
  }

  void TearDown() override {
    transform_.reset();
    if (writer_server_ != nullptr) writer_server_->Shutdown(absl::Seconds(1));
  }

  // Partition 0's records from `first_offset` with the given CSV values, under `epoch`.
  static v1::RecordBatch Batch(uint64_t id, int64_t epoch, int64_t first_offset,
                               const std::vector<std::string>& values) {
    return testing::MakeRecordBatch(
        {.id = id, .topic = "orders", .first_offset = first_offset, .epoch = epoch}, values);
  }

  // Sends `batch` and returns its acknowledgement.
  v1::Ack Convert(const v1::RecordBatch& batch) { return transform_->Convert(batch); }

  // The ids of the rows the writer received, in order.
  std::vector<int64_t> WrittenIds() {
    std::vector<int64_t> ids;
    for (const maxcompute::Row& row : testing::DecodeRows(writer_.batches(), schema_)) {
      ids.push_back(std::get<int64_t>(row[0]));
    }
    return ids;
  }

  maxcompute::TableSchema schema_{.columns = {{"id", {maxcompute::TypeKind::kBigint}},
                                              {"name", {maxcompute::TypeKind::kString}}},
                                  .partition_columns = {{"pt", {maxcompute::TypeKind::kString}}}};
  prometheus::Registry registry_;
  testing::FakeWriter writer_;
  std::unique_ptr<GrpcServer> writer_server_;
  std::unique_ptr<testing::TransformUnderTest> transform_;
};

TEST_F(TransformStopEpochTest, StopHoldsUnderItsEpochAndAHigherEpochClearsIt) {
  // Given partition 0 stopped at offset 1 under epoch 5
  const v1::Ack stopped = Convert(Batch(1, 5, 0, {"1,a", "x,b", "3,c"}));
  ASSERT_EQ(stopped.stopped_size(), 1);
  EXPECT_EQ(stopped.stopped(0).offset(), 1);
  // When a later batch comes under the same epoch, then the stop holds: nothing is written
  const v1::Ack same_epoch = Convert(Batch(2, 5, 3, {"4,d"}));
  ASSERT_EQ(same_epoch.stopped_size(), 1) << "the stop is repeated on every ack";
  EXPECT_EQ(same_epoch.stopped(0).offset(), 1);
  // And a stale batch under a lower epoch does not clear it either
  const v1::Ack older_epoch = Convert(Batch(3, 4, 4, {"5,e"}));
  EXPECT_EQ(older_epoch.stopped_size(), 1);
  // When ingest restarts the partition: its batches come under epoch 6 from the failed offset
  const v1::Ack restarted = Convert(Batch(4, 6, 1, {"2,b", "3,c", "4,d"}));
  // Then the stop is gone and the batch's rows are written
  EXPECT_EQ(restarted.stopped_size(), 0);
  EXPECT_EQ(WrittenIds(), (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST_F(TransformStopEpochTest, ARecordStillFailingUnderTheNewEpochStopsThePartitionAgain) {
  // Given partition 0 stopped at offset 1 under epoch 5
  ASSERT_EQ(Convert(Batch(1, 5, 0, {"1,a", "x,b"})).stopped_size(), 1);
  // When the partition restarts under epoch 6 and the record fails again
  const v1::Ack again = Convert(Batch(2, 6, 1, {"x,b", "3,c"}));
  // Then it stops again at that record, now under epoch 6: a batch of epoch 6 stays stopped
  ASSERT_EQ(again.stopped_size(), 1);
  EXPECT_EQ(again.stopped(0).offset(), 1);
  ASSERT_EQ(Convert(Batch(3, 6, 3, {"4,d"})).stopped_size(), 1);
  EXPECT_EQ(WrittenIds(), (std::vector<int64_t>{1}));
}

TEST_F(TransformStopEpochTest, TheWriterJournalsOnlyTheOffsetsBeforeTheStopAsWritten) {
  // Given a batch of partition 0 (offsets 10..13, the record at 12 fails) and of partition 1
  v1::RecordBatch batch = Batch(1, 5, 10, {"1,a", "2,b", "x,c", "4,d"});
  const v1::RecordBatch other = testing::MakeRecordBatch(
      {.id = 1, .topic = "orders", .partition = 1, .first_offset = 0, .epoch = 5}, {"5,e", "6,f"});
  batch.mutable_ranges()->MergeFrom(other.ranges());
  batch.mutable_records()->MergeFrom(other.records());
  // When it is converted
  const v1::Ack ack = Convert(batch);
  // Then ingest hears of the stop and of the whole batch (it caps its commits at the stop)
  ASSERT_EQ(ack.stopped_size(), 1);
  EXPECT_EQ(ack.stopped(0).offset(), 12);
  EXPECT_EQ(ack.ranges_size(), 2);
  // And the writer, which journals a batch's ranges as written, is given of partition 0 only the
  // offsets before the failed record: a later owner must read 12 and 13 again, not skip them
  ASSERT_TRUE(writer_.WaitBatches(1));
  const v1::RowBatch rows = writer_.batches().at(0);
  ASSERT_EQ(rows.ranges_size(), 2);
  EXPECT_EQ(rows.ranges(0).partition(), 0);
  EXPECT_EQ(rows.ranges(0).first_offset(), 10);
  EXPECT_EQ(rows.ranges(0).last_offset(), 11);
  EXPECT_EQ(rows.ranges(0).epoch(), 5);
  EXPECT_EQ(rows.ranges(1).partition(), 1);
  EXPECT_EQ(rows.ranges(1).first_offset(), 0);
  EXPECT_EQ(rows.ranges(1).last_offset(), 1);
  EXPECT_EQ(WrittenIds(), (std::vector<int64_t>{1, 2, 5, 6}));

  // When a later batch of the stopped partition comes (with the flush hint, so it reaches the
  // writer even without rows)
  v1::RecordBatch later = Batch(2, 5, 14, {"7,g"});
  later.set_flush_hint(true);
  EXPECT_EQ(Convert(later).stopped_size(), 1);
  // Then the writer is given none of its offsets
  ASSERT_TRUE(writer_.WaitBatches(2));
  EXPECT_EQ(writer_.batches().at(1).ranges_size(), 0);
  EXPECT_EQ(WrittenIds(), (std::vector<int64_t>{1, 2, 5, 6}));
}

}  // namespace
}  // namespace mcsink::transform
