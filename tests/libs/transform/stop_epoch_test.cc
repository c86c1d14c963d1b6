// The failure policy "stop" and a partition's restart: a stop is recorded with the epoch of the
// batch whose record failed, holds for batches of that epoch, and is cleared by a batch of the
// partition under a higher epoch (ingest restarted the partition, or a new owner claimed it).
// The writer is an in-process test server; under "stop" no record goes to the error topic, so
// the broker (whose address leads nowhere) is never used.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/transform/transform_service.h"
#include "prometheus/registry.h"

namespace mcsink::transform {
namespace {

// Keeps the RowBatches it receives and acknowledges each.
class KeepingWriter : public v1::Writer::Service {
 public:
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
      stream->Write(ack);
    }
    return grpc::Status::OK;
  }
  std::vector<v1::RowBatch> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::RowBatch> batches_ ABSL_GUARDED_BY(mu_);
};

class TransformStopEpochTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(writer_server_, GrpcServer::Start({.services = {{&writer_, "w"}}}));
    v1::ConnectorConfig config;
    config.set_name("stops");
    config.set_source_topic("orders");
    config.set_mode(v1::MODE_VALUE);
    config.set_format(v1::FORMAT_CSV);
    config.set_failure_policy(v1::FAILURE_POLICY_STOP);
    (*config.mutable_kafka_properties())["bootstrap.servers"] = "127.0.0.1:1";
    config.mutable_target()->set_endpoint("http://127.0.0.1:1/api");
    config.mutable_target()->set_project("p");
    config.mutable_target()->set_table("t");
    config.mutable_target()->mutable_access_key_id()->set_env("AK");
    config.mutable_target()->mutable_access_key_secret()->set_env("SK");
    ASSERT_OK_AND_ASSIGN(v1::ConnectorConfig normalized, config::Normalize(config));

    TransformServiceOptions options;
    options.connector = normalized;
    options.schema = schema_;
    options.kafka_properties = {{"bootstrap.servers", "127.0.0.1:1"}};
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

  // Partition 0's records from `first_offset` with the given CSV values, under `epoch`.
  static v1::RecordBatch Batch(uint64_t id, int64_t epoch, int64_t first_offset,
                               const std::vector<std::string>& values) {
    v1::RecordBatch b;
    b.set_batch_id(id);
    b.set_topic("orders");
    v1::OffsetRange* r = b.add_ranges();
    r->set_topic("orders");
    r->set_partition(0);
    r->set_first_offset(first_offset);
    r->set_last_offset(first_offset + static_cast<int64_t>(values.size()) - 1);
    r->set_epoch(epoch);
    for (size_t i = 0; i < values.size(); ++i) {
      v1::KafkaRecord* rec = b.add_records();
      rec->set_partition(0);
      rec->set_offset(first_offset + static_cast<int64_t>(i));
      rec->set_timestamp_ms(1605596400000);
      rec->set_timestamp_type(v1::KafkaRecord::TIMESTAMP_CREATE_TIME);
      rec->set_value(values[i]);
    }
    return b;
  }

  // Sends `batch` and returns its acknowledgement.
  v1::Ack Convert(const v1::RecordBatch& batch) {
    EXPECT_TRUE(stream_->Write(batch));
    v1::Ack ack;
    EXPECT_TRUE(stream_->Read(&ack));
    EXPECT_EQ(ack.batch_id(), batch.batch_id());
    return ack;
  }

  // The ids of the rows the writer received, in order.
  std::vector<int64_t> WrittenIds() {
    std::vector<int64_t> ids;
    for (const v1::RowBatch& b : writer_.batches()) {
      for (const v1::RowGroup& g : b.groups()) {
        std::string stream = g.encoded_rows();
        maxcompute::StreamTrailer trailer;
        for (uint32_t crc : g.row_crcs()) trailer.Add(crc);
        trailer.AppendTo(&stream);
        auto rows = maxcompute::DecodeRecordStream(schema_, stream);
        EXPECT_OK(rows);
        if (!rows.ok()) continue;
        for (const maxcompute::Row& row : *rows) ids.push_back(std::get<int64_t>(row[0]));
      }
    }
    return ids;
  }

  maxcompute::TableSchema schema_{.columns = {{"id", {maxcompute::TypeKind::kBigint}},
                                              {"name", {maxcompute::TypeKind::kString}}},
                                  .partition_columns = {{"pt", {maxcompute::TypeKind::kString}}}};
  prometheus::Registry registry_;
  KeepingWriter writer_;
  std::unique_ptr<GrpcServer> writer_server_, server_;
  std::unique_ptr<TransformService> service_;
  std::unique_ptr<v1::Transform::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RecordBatch, v1::Ack>> stream_;
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

}  // namespace
}  // namespace mcsink::transform
