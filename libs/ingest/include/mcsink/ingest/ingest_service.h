// The ingest service for one connector: `concurrency` consumer threads in group
// connect-<name>, whose batches go over one reliable stream to transform; acknowledgements come
// back on it and are routed to the thread that sent the batch.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "mcsink/ingest/consumer_worker.h"
#include "mcsink/ingest/ingest_metrics.h"
#include "mcsink/pipeline/stream_client.h"
#include "mcsink/v1/connector.pb.h"
#include "mcsink/v1/pipeline.grpc.pb.h"

namespace mcsink::ingest {

struct IngestServiceOptions {
  // A normalized connector config (mcsink::config::Normalize).
  v1::ConnectorConfig connector;
  // Kafka client properties besides the config's own (e.g. secrets already read).
  kafka::Properties extra_kafka_properties;
  // Where transform listens; in the all-in-one process, an in-process channel.
  std::shared_ptr<grpc::Channel> transform_channel;
  // Batching and bounds; connector, group, topic and properties are filled from `connector`.
  ConsumerOptions tuning;
  int64_t max_unacked_bytes = 128 << 20;  // on the stream to transform
};

class IngestService : public BatchSink {
 public:
  static absl::StatusOr<std::unique_ptr<IngestService>> Create(IngestServiceOptions options,
                                                               prometheus::Registry& registry);
  ~IngestService() override;

  void Start();
  // Drains: consumer threads send what they cut, wait up to `drain` for acknowledgements,
  // commit, and leave the group; then the stream closes.
  void Stop(absl::Duration drain);

  absl::Status Send(v1::RecordBatch batch) override;
  std::vector<ConsumerStats> stats() const;

 private:
  explicit IngestService(IngestServiceOptions options, prometheus::Registry& registry);
  void OnAck(const v1::Ack& ack);

  IngestServiceOptions options_;
  IngestMetrics metrics_;
  std::unique_ptr<pipeline::StreamClient<v1::RecordBatch, v1::Ack>> stream_;
  std::vector<std::unique_ptr<ConsumerWorker>> workers_;
};

}  // namespace mcsink::ingest
