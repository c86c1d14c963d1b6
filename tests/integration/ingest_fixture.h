// The shared fixture of the ingest service's integration tests on the Kafka fixture broker: a
// fresh source topic, a test transform served in process, a connector config with its internal
// topics, the ingest service tuned for small batches and quick commits, and the waits on what it
// committed, stopped and published.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/v1/pipeline.grpc.pb.h"
#include "prometheus/registry.h"

namespace mcsink::ingest {

// A transform for ingest tests: acknowledges every batch with its ranges, after Answer (called
// once per batch, on the stream's thread) has added what the test wants to the Ack.
class TestTransform : public v1::Transform::Service {
 public:
  grpc::Status Convert(grpc::ServerContext*,
                       grpc::ServerReaderWriter<v1::Ack, v1::RecordBatch>* stream) override {
    v1::RecordBatch batch;
    while (stream->Read(&batch)) {
      v1::Ack ack;
      ack.set_batch_id(batch.batch_id());
      *ack.mutable_ranges() = batch.ranges();
      Answer(batch, ack);
      stream->Write(ack);
    }
    return grpc::Status::OK;
  }

 protected:
  virtual void Answer(const v1::RecordBatch& batch, v1::Ack& ack) = 0;
};

class IngestServiceFixture : public ::testing::Test {
 protected:
  // The source topic is named after `topic_prefix` and has `partitions` partitions.
  IngestServiceFixture(std::string topic_prefix, int32_t partitions)
      : topic_prefix_(std::move(topic_prefix)), partitions_(partitions) {}

  // Finds the broker and creates the source topic.
  void SetUp() override;
  // Stops the service, then the transform.
  void TearDown() override;

  // Serves `transform` in process as the service's downstream.
  void StartTransform(grpc::Service* transform);

  // Sets config_ to the normalized connector of the source topic with `policy` (a MaxCompute
  // target that is never reached), and creates its dead-letter topic (`dead_letter_partitions`)
  // and status topic: the broker does not create topics on use; the controller creates these in
  // production.
  void Configure(v1::FailurePolicy policy, int32_t dead_letter_partitions);

  // Options for config_ and the transform: a short session, several batches per partition
  // (5 records each, 20 ms linger) and a commit every 200 ms.
  IngestServiceOptions ServiceOptions();
  // Creates and starts service_.
  void StartService(const IngestServiceOptions& options);

  // `count` records into `partition`, offsets going on from what is there: record i has key
  // "k<partition>-<i>" and value "value-<partition>-<i>".
  void Produce(int32_t partition, int64_t count);

  // Waits until the group committed `expected` (partition -> offset) or 60 s passed; returns what
  // it committed last.
  std::map<int32_t, int64_t> WaitForCommitted(const std::map<int32_t, int64_t>& expected);

  // The stopped partitions of every consumer (partition -> offset), once there are `count` of
  // them (or 30 s passed).
  std::map<int32_t, int64_t> WaitForStopped(size_t count);

  // The partition's latest status in the status topic, once it is in `state` (status is
  // published asynchronously; up to 30 s), else the last one read.
  v1::PartitionStatus Status(int32_t partition, v1::PartitionState state);

  // The sum of a counter family's values in registry_ (0 when absent).
  double Counter(const std::string& name);

  std::string bootstrap_, topic_;
  std::unique_ptr<kafka::Admin> admin_;
  v1::ConnectorConfig config_;
  prometheus::Registry registry_;
  std::unique_ptr<GrpcServer> transform_server_;
  std::unique_ptr<IngestService> service_;

 private:
  const std::string topic_prefix_;
  const int32_t partitions_;
};

}  // namespace mcsink::ingest
