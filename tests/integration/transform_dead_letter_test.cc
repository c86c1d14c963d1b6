// The transform service's half of the dead-letter path, with the error topic on the real Kafka
// broker: a writer's negative acknowledgement reaches ingest as a BatchFailure naming exactly the
// records the rows carried (not the one that went to the error topic), a record the error topic
// cannot take comes back the same way, and the RowBatch carries the batch's oldest record
// timestamp for the writer's latency metric.
#include <atomic>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/testing/kafka_fixture.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/transform/transform_service.h"

namespace mcsink::transform {
namespace {

// A writer that refuses every batch, as WriterService does after a permanent Tunnel failure, or
// acknowledges every batch when told to.
class RefusingWriter : public v1::Writer::Service {
 public:
  void Accept() { accept_ = true; }
  grpc::Status Write(grpc::ServerContext*,
                     grpc::ServerReaderWriter<v1::Ack, v1::RowBatch>* stream) override {
    v1::RowBatch batch;
    while (stream->Read(&batch)) {
      {
        absl::MutexLock lock(&mu_);
        batches_.push_back(batch);
      }
      v1::Ack ack;
      ack.set_batch_id(batch.batch_id());
      if (!accept_) {
        v1::BatchFailure* f = ack.add_failures();
        f->set_code("WRITER_FAILED");
        f->set_message("writing partition 'pt=x' failed permanently");
      }
      stream->Write(ack);
    }
    return grpc::Status::OK;
  }
  std::vector<v1::RowBatch> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  std::atomic<bool> accept_{false};
  absl::Mutex mu_;
  std::vector<v1::RowBatch> batches_ ABSL_GUARDED_BY(mu_);
};

// Offsets 10..13 of partition 4 with values a, b, (invalid UTF-8), d; the last is the oldest.
v1::RecordBatch BatchWithABadRecord(const std::string& topic) {
  v1::RecordBatch batch;
  batch.set_batch_id(99);
  batch.set_topic(topic);
  v1::OffsetRange* range = batch.add_ranges();
  range->set_topic(topic);
  range->set_partition(4);
  range->set_first_offset(10);
  range->set_last_offset(13);
  const std::vector<std::string> values = {"a", "b", std::string("\xff\xfe", 2), "d"};
  for (int i = 0; i < 4; ++i) {
    v1::KafkaRecord* r = batch.add_records();
    r->set_partition(4);
    r->set_offset(10 + i);
    r->set_timestamp_ms(1605596400000 + 1000 * (3 - i));
    r->set_timestamp_type(v1::KafkaRecord::TIMESTAMP_CREATE_TIME);
    r->set_value(values[static_cast<size_t>(i)]);
  }
  return batch;
}

class TransformDeadLetterTest : public ::testing::Test {
 protected:
  // `create_error_topic` false: the error topic does not exist (the broker does not create
  // topics on use), so error records cannot be delivered; short timeouts make that quick.
  void Start(bool create_error_topic) {
    ASSERT_OK_AND_ASSIGN(const std::string bootstrap, testing::KafkaFixtureBootstrap());
    ASSERT_OK_AND_ASSIGN(auto admin, kafka::Admin::Create({{"bootstrap.servers", bootstrap}}));
    const std::string name = testing::UniqueTopicName("transform-dlq");
    v1::ConnectorConfig config;
    config.set_name(name);
    config.set_source_topic(name + "-in");
    (*config.mutable_kafka_properties())["bootstrap.servers"] = bootstrap;
    config.mutable_target()->set_endpoint("http://127.0.0.1:1/api");
    config.mutable_target()->set_project("p");
    config.mutable_target()->set_table("t");
    config.mutable_target()->mutable_access_key_id()->set_env("AK");
    config.mutable_target()->mutable_access_key_secret()->set_env("SK");
    ASSERT_OK_AND_ASSIGN(config_, config::Normalize(config));
    // The exactly-once error topic keeps what it produced in the offset topic.
    ASSERT_OK(admin->CreateTopic({.name = config_.topics().offset_topic(),
                                  .partitions = 2,
                                  .configs = {{"cleanup.policy", "compact"}}}));
    if (create_error_topic) {
      ASSERT_OK(admin->CreateTopic({.name = config_.topics().error_topic(), .partitions = 1}));
    }

    // The guide's table: topic, partition, offset, key, value; partitioned by pt.
    maxcompute::TableSchema schema;
    schema.columns = {{"topic", {maxcompute::TypeKind::kString}},
                      {"partition", {maxcompute::TypeKind::kBigint}},
                      {"offset", {maxcompute::TypeKind::kBigint}},
                      {"key", {maxcompute::TypeKind::kString}},
                      {"value", {maxcompute::TypeKind::kString}}};
    schema.partition_columns.push_back({"pt", {maxcompute::TypeKind::kString}});

    ASSERT_OK_AND_ASSIGN(writer_server_, GrpcServer::Start({.services = {{&writer_, "w"}}}));
    TransformServiceOptions options;
    options.connector = config_;
    options.schema = schema;
    options.kafka_properties = {{"bootstrap.servers", bootstrap},
                                {"message.timeout.ms", "3000"},
                                {"topic.metadata.propagation.max.ms", "1000"}};
    options.writer_channel = writer_server_->InProcessChannel();
    ASSERT_OK_AND_ASSIGN(service_, TransformService::Create(options, registry_));
    ASSERT_OK_AND_ASSIGN(server_, GrpcServer::Start({.services = {{service_.get(), "t"}}}));
    stub_ = v1::Transform::NewStub(server_->InProcessChannel());
    stream_ = stub_->Convert(&context_);
  }

  void TearDown() override {
    if (stream_ != nullptr) {
      stream_->WritesDone();
      v1::Ack ignored;
      while (stream_->Read(&ignored)) {
      }
      stream_->Finish();
    }
    if (service_ != nullptr) service_->Stop(absl::Seconds(5));
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
    if (writer_server_ != nullptr) writer_server_->Shutdown(absl::Seconds(1));
  }

  v1::ConnectorConfig config_;
  prometheus::Registry registry_;
  RefusingWriter writer_;
  std::unique_ptr<GrpcServer> writer_server_, server_;
  std::unique_ptr<TransformService> service_;
  std::unique_ptr<v1::Transform::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RecordBatch, v1::Ack>> stream_;
};

TEST_F(TransformDeadLetterTest, WriterFailureComesBackNamingExactlyTheRecordsTheRowsCarried) {
  // Given a batch of partition 4, offsets 10..13, whose offset 12 is not valid UTF-8
  Start(/*create_error_topic=*/true);
  ASSERT_TRUE(stream_->Write(BatchWithABadRecord(config_.source_topic())));
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
  EXPECT_EQ(writer_.batches()[0].min_timestamp_ms(), 1605596400000);
}

TEST_F(TransformDeadLetterTest, UndeliverableErrorRecordComesBackForTheDeadLetterTopic) {
  // Given an error topic that cannot take records, and a writer that takes the rows
  writer_.Accept();
  Start(/*create_error_topic=*/false);
  // When a batch with a bad record at offset 12 is converted
  ASSERT_TRUE(stream_->Write(BatchWithABadRecord(config_.source_topic())));
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
}

}  // namespace
}  // namespace mcsink::transform
