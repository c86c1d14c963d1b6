// The transform service: converts RecordBatches from ingest into RowBatches for the writer
// (libs/convert), sends records that fail to the error topic, applies the failure policy, and
// acknowledges a batch upstream only when the writer acknowledged its rows and the error topic
// acknowledged its failed records. A batch's failed records are in the error topic (exactly-once:
// their transaction committed) before its rows go to the writer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/convert/converter.h"
#include "mcsink/maxcompute/types.h"
#include "mcsink/pipeline/stream_client.h"
#include "mcsink/transform/error_topic.h"
#include "mcsink/transform/transform_metrics.h"
#include "mcsink/v1/connector.pb.h"
#include "mcsink/v1/pipeline.grpc.pb.h"

namespace mcsink::transform {

// The converter options a connector config asks for.
convert::ConverterOptions ConverterOptionsFor(const v1::ConnectorConfig& config);

// The offset ranges of the records of `batch` for which `included[i]` holds: maximal runs of
// included records per partition, so a range never spans a record left out.
google::protobuf::RepeatedPtrField<v1::OffsetRange> RangesOf(const v1::RecordBatch& batch,
                                                             const std::vector<bool>& included);

// The smallest Kafka timestamp of the batch's records (0 when none carries one).
int64_t MinTimestampMs(const v1::RecordBatch& batch);

// Failure codes of the records this service gives back to ingest for the dead-letter topic.
inline constexpr char kErrorTopicUndeliverable[] = "ERROR_TOPIC_UNDELIVERABLE";

struct TransformServiceOptions {
  v1::ConnectorConfig connector;       // normalized
  maxcompute::TableSchema schema;      // the target table's
  kafka::Properties kafka_properties;  // for the error-topic producer
  std::shared_ptr<grpc::Channel> writer_channel;
  int64_t max_unacked_bytes = 128 << 20;  // on the stream to the writer
  // Exactly-once error topic (error_topic.h): each failed record lands in the error topic once,
  // tracked in the connector's offset topic (topics.offset_topic, which must then exist). False:
  // at-least-once, as with --exactly_once=false.
  bool exactly_once = true;
  // The error topic's transaction timeout (how long a crashed transform's open transaction can
  // hold back read_committed readers of the error topic).
  absl::Duration error_transaction_timeout = absl::Seconds(10);
};

class TransformService final : public v1::Transform::Service {
 public:
  static absl::StatusOr<std::unique_ptr<TransformService>> Create(TransformServiceOptions options,
                                                                  prometheus::Registry& registry);
  ~TransformService() override;

  grpc::Status Convert(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<v1::Ack, v1::RecordBatch>* stream) override;

  // Waits up to `drain` for what was sent downstream to be acknowledged, then stops.
  void Stop(absl::Duration drain);

 private:
  struct Upstream;
  struct Pending;
  explicit TransformService(TransformServiceOptions options, prometheus::Registry& registry);
  void Process(const v1::RecordBatch& batch, convert::Converter& converter,
               convert::ConvertedBatch& converted, const std::shared_ptr<Upstream>& upstream);
  // One of a batch's outstanding parts is done; acknowledges upstream after the last. `failures`
  // are records of the part that could not be delivered: they go upstream in the Ack (for the
  // dead-letter topic); a failure naming no ranges stands for every record of the RowBatch.
  void PartDone(uint64_t id, bool ok, std::vector<v1::BatchFailure> failures = {});
  // Puts the batch's failed records into the error topic and waits until they are there (in
  // exactly-once mode: committed). Returns the failures of records the error topic did not
  // take (for the dead-letter topic), or an error when the batch must not be acknowledged (the
  // service is stopping).
  absl::StatusOr<std::vector<v1::BatchFailure>> ReportErrors(
      const v1::RecordBatch& batch, const std::vector<const convert::RecordError*>& errors);
  void OnWriterAck(const v1::Ack& ack);

  TransformServiceOptions options_;
  TransformMetrics metrics_;
  std::unique_ptr<ErrorTopicWriter> errors_;
  std::unique_ptr<pipeline::StreamClient<v1::RowBatch, v1::Ack>> writer_;

  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Pending>> pending_ ABSL_GUARDED_BY(mu_);
  // Partitions stopped by the failure policy "stop", with the record that failed and the epoch
  // (OffsetRange.epoch) of the batch that failed it. Every ack of a batch that touches one
  // repeats it, so whichever consumer owns the partition (after a rebalance too) stops at that
  // record. A batch of the partition under a higher epoch (ingest restarted the partition, or a
  // new owner claimed it) clears the stop: its records are converted again.
  struct PartitionStop {
    v1::PartitionFailure failure;
    int64_t epoch = 0;
  };
  std::map<std::pair<std::string, int32_t>, PartitionStop> stopped_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mcsink::transform
