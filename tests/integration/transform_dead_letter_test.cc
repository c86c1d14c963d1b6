// The transform service's half of the dead-letter path, with the error topic on the real Kafka
// broker: a writer's negative acknowledgement reaches ingest as a BatchFailure naming exactly the
// records the rows carried (not the one that went to the error topic), a record the error topic
// cannot take comes back the same way, and the RowBatch carries the batch's oldest record
// timestamp for the writer's latency metric.
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/testing/transform_test_support.h"
#include "mcsink/transform/transform_service.h"

namespace mcsink::transform {
namespace {

// Offsets 10..13 of partition 4 with values a, b, (invalid UTF-8), d; the last is the oldest,
// stamped `oldest_ms`.
v1::RecordBatch BatchWithABadRecord(const std::string& topic, int64_t oldest_ms) {
  return testing::MakeRecordBatch({.id = 99,
                                   .topic = topic,
                                   .partition = 4,
                                   .first_offset = 10,
                                   .timestamp_ms = oldest_ms + 3000,
                                   .timestamp_step_ms = -1000},
                                  {"a", "b", std::string("\xff\xfe", 2), "d"});
}

class TransformDeadLetterTest : public ::testing::Test {
 protected:
  // The writer refuses every batch, as WriterService does after a permanent Tunnel failure,
  // unless a test tells it to acknowledge.
  void SetUp() override { writer_.SetAnswer(testing::FakeWriter::Answer::kRefuse); }

  // `create_error_topic` false: the error topic does not exist (the broker does not create
  // topics on use), so error records cannot be delivered; short timeouts make that quick.
  void Start(bool create_error_topic) {
    ASSERT_OK_AND_ASSIGN(const std::string bootstrap, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(auto admin, kafka::Admin::Create({{"bootstrap.servers", bootstrap}}));
    const std::string name = testing::UniqueTopicName("transform-dlq");
    ASSERT_OK_AND_ASSIGN(config_, config::Normalize(testing::TestConnector(
                                      v1::ConnectorConfig(), name, name + "-in", bootstrap)));
    // The exactly-once error topic keeps what it produced in the offset topic.
    ASSERT_OK(admin->CreateTopic({.name = config_.topics().offset_topic(),
                                  .partitions = 2,
                                  .configs = {{"cleanup.policy", "compact"}}}));
    if (create_error_topic) {
      ASSERT_OK(admin->CreateTopic({.name = config_.topics().error_topic(), .partitions = 1}));
    }

    ASSERT_OK_AND_ASSIGN(writer_server_, GrpcServer::Start({.services = {{&writer_, "w"}}}));
    TransformServiceOptions options;
    options.connector = config_;
    options.schema = testing::SeedTableSchema();  // the guide's table
    options.kafka_properties = {{"bootstrap.servers", bootstrap},
                                {"message.timeout.ms", "3000"},
                                {"topic.metadata.propagation.max.ms", "1000"}};
    options.writer_channel = writer_server_->InProcessChannel();
    ASSERT_OK_AND_ASSIGN(transform_, testing::TransformUnderTest::Start(options, registry_));
    stream_ = transform_->stream.get();
  }

  void TearDown() override {
    transform_.reset();
    if (writer_server_ != nullptr) writer_server_->Shutdown(absl::Seconds(1));
  }

  // The oldest record's timestamp in BatchWithABadRecord: now (the bad record goes to the error
  // topic, whose time retention would delete a record stamped years ago within minutes).
  const int64_t oldest_ms_ = absl::ToUnixMillis(absl::Now());
  v1::ConnectorConfig config_;
  prometheus::Registry registry_;
  testing::FakeWriter writer_;
  std::unique_ptr<GrpcServer> writer_server_;
  std::unique_ptr<testing::TransformUnderTest> transform_;
  grpc::ClientReaderWriter<v1::RecordBatch, v1::Ack>* stream_ = nullptr;
};

TEST_F(TransformDeadLetterTest, WriterFailureComesBackNamingExactlyTheRecordsTheRowsCarried) {
  // Given a batch of partition 4, offsets 10..13, whose offset 12 is not valid UTF-8
  Start(/*create_error_topic=*/true);
  ASSERT_TRUE(stream_->Write(BatchWithABadRecord(config_.source_topic(), oldest_ms_)));
  // When the writer refuses its rows for good
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  // Then ingest's ack for batch 99 carries the failure over 10..11 and 13: offset 12 is in the
  // error topic already and must not be dead-lettered too
  EXPECT_EQ(ack.batch_id(), 99u);
  ASSERT_EQ(ack.failures_size(), 1);
  const v1::BatchFailure& f = ack.failures(0);
  EXPECT_EQ(f.code(), "WRITER_FAILED");
  ASSERT_EQ(f.ranges_size(), 2);
  EXPECT_EQ(f.ranges(0).topic(), config_.source_topic());
  EXPECT_EQ(f.ranges(0).partition(), 4);
  EXPECT_EQ(f.ranges(0).first_offset(), 10);
  EXPECT_EQ(f.ranges(0).last_offset(), 11);
  EXPECT_EQ(f.ranges(1).first_offset(), 13);
  EXPECT_EQ(f.ranges(1).last_offset(), 13);
  // And the RowBatch carried the oldest record's timestamp
  ASSERT_EQ(writer_.batches().size(), 1u);
  EXPECT_EQ(writer_.batches()[0].min_timestamp_ms(), oldest_ms_);
}

TEST_F(TransformDeadLetterTest, UndeliverableErrorRecordComesBackForTheDeadLetterTopic) {
  // Given an error topic that cannot take records, and a writer that takes the rows
  writer_.SetAnswer(testing::FakeWriter::Answer::kAck);
  Start(/*create_error_topic=*/false);
  // When a batch with a bad record at offset 12 is converted
  ASSERT_TRUE(stream_->Write(BatchWithABadRecord(config_.source_topic(), oldest_ms_)));
  // Then the batch is acknowledged (it does not stall), naming offset 12 alone as undelivered
  v1::Ack ack;
  ASSERT_TRUE(stream_->Read(&ack));
  EXPECT_EQ(ack.batch_id(), 99u);
  ASSERT_EQ(ack.failures_size(), 1);
  const v1::BatchFailure& f = ack.failures(0);
  EXPECT_EQ(f.code(), kErrorTopicUndeliverable);
  EXPECT_NE(f.message().find("INVALID_UTF8"), std::string::npos) << f.message();
  ASSERT_EQ(f.ranges_size(), 1);
  EXPECT_EQ(f.ranges(0).partition(), 4);
  EXPECT_EQ(f.ranges(0).first_offset(), 12);
  EXPECT_EQ(f.ranges(0).last_offset(), 12);
  // And the writer, which journals a RowBatch's ranges as written, was not told of offset 12: it
  // is in neither the table nor the error topic, so a later owner must read it again
  ASSERT_EQ(writer_.batches().size(), 1u);
  const v1::RowBatch rows = writer_.batches()[0];
  ASSERT_EQ(rows.ranges_size(), 2);
  EXPECT_EQ(rows.ranges(0).first_offset(), 10);
  EXPECT_EQ(rows.ranges(0).last_offset(), 11);
  EXPECT_EQ(rows.ranges(1).first_offset(), 13);
  EXPECT_EQ(rows.ranges(1).last_offset(), 13);
}

}  // namespace
}  // namespace mcsink::transform
