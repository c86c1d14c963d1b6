// The ingest service for one connector: `concurrency` consumer threads in group
// connect-<name>, whose batches go over one reliable stream to transform; acknowledgements come
// back on it and are routed to the thread that sent the batch. Records that no stage could
// deliver come back named in the Ack and go to the dead-letter topic (dead_letter.h).
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "mcsink/ingest/consumer_worker.h"
#include "mcsink/ingest/dead_letter.h"
#include "mcsink/ingest/ingest_metrics.h"
#include "mcsink/ingest/resender.h"
#include "mcsink/ingest/status_publisher.h"
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

// The failures of an ack, by what ingest does with them.
struct SplitFailures {
  // Of the FENCED failures (pipeline::kFenced): not failures of the records, so neither
  // dead-lettered nor stopping their partitions; sent again while their consumer owns them.
  std::vector<v1::OffsetRange> fenced;
  std::string fenced_message;  // the first one's, for logs
  bool any_fenced = false;     // also true for a FENCED failure naming no ranges
  // The others, for the failure policy (dead-letter topic, or stop).
  std::vector<v1::BatchFailure> others;
};
SplitFailures SplitFenced(const v1::Ack& ack);

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
  void DeadLetter(uint64_t batch_id, const std::string& topic, const v1::KafkaRecord& record,
                  const std::string& message) override;
  void Resend(uint64_t batch_id, std::vector<v1::OffsetRange> ranges) override;
  std::vector<ConsumerStats> stats() const;

  // Thread-safe. The partitions that the failure policy "stop" stopped (ConsumerStats::stopped)
  // are consumed again from their committed offsets, as `mcsinkctl restart --only-failed` asks;
  // the others are not disturbed. Returns the partitions restarted (none: nothing was stopped).
  std::vector<TopicPartition> RestartStoppedPartitions();

 private:
  explicit IngestService(IngestServiceOptions options, prometheus::Registry& registry);
  void OnAck(const v1::Ack& ack);
  // Records of batch `batch_id` that no stage delivered (framework-level failures): under the
  // policy "stop" their partitions stop at the first such record; otherwise they go to the
  // dead-letter topic (`record`, when given, is the one record of the failure, in hand) and the
  // batch is acknowledged once they are all there. If that fails the batch stays unacknowledged.
  void Fail(uint64_t batch_id, const std::vector<v1::BatchFailure>& failures,
            const v1::KafkaRecord* record = nullptr);
  ConsumerWorker* WorkerOf(uint64_t batch_id);

  IngestServiceOptions options_;
  IngestMetrics metrics_;
  std::unique_ptr<pipeline::StreamClient<v1::RecordBatch, v1::Ack>> stream_;
  // Declared before the workers, so it outlives them: they report to it until they leave.
  std::unique_ptr<StatusPublisher> status_;
  std::vector<std::unique_ptr<ConsumerWorker>> workers_;
  // Declared after the workers, so they are destroyed first: their callbacks reach them.
  std::unique_ptr<DeadLetterQueue> dead_letters_;
  std::unique_ptr<Resender> resender_;
};

}  // namespace mcsink::ingest
