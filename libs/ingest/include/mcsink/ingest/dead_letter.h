// The dead-letter topic: records that no stage could deliver for a reason that is not their own
// (the writer failed for good, the error topic refused them, a record too large to forward) go
// there with the error topic's headers (source topic, partition, offset, error code and message,
// connector), and only then does their batch count as acknowledged. Ingest keeps no copy of what
// it sent downstream, so records named by offset range are read back from Kafka (RangeReader);
// failures are rare, the read costs nothing otherwise.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/ingest/range_job_queue.h"
#include "mcsink/kafka/config.h"
#include "mcsink/transform/error_topic.h"
#include "mcsink/v1/pipeline.pb.h"

namespace mcsink::ingest {

class IngestMetrics;

// The failure code of a record too large to forward downstream.
inline constexpr char kRecordTooLarge[] = "RECORD_TOO_LARGE";

struct DeadLetterOptions {
  std::string connector;
  std::string topic;                   // the connector's topics.dead_letter_topic
  kafka::Properties kafka_properties;  // bootstrap.servers and any security settings
  // Exactly-once (transform::ErrorTopicOptions): the connector's offset topic, where the offsets
  // already dead-lettered are kept, and its consumer group. Empty offset_topic: at-least-once.
  std::string offset_topic;
  std::string consumer_group;
  // How long reading one range back may take before the job fails (and is not acknowledged).
  absl::Duration read_timeout = absl::Seconds(60);
};

class DeadLetterQueue {
 public:
  // Called once per request: OK when every record is acknowledged by the broker, else why not.
  using Done = std::function<void(const absl::Status& status)>;

  // `metrics` may be null; it must outlive the queue.
  static absl::StatusOr<std::unique_ptr<DeadLetterQueue>> Create(DeadLetterOptions options,
                                                                 IngestMetrics* metrics = nullptr);
  // Fails what is still queued (Cancelled) and waits up to 10 s for deliveries in progress.
  ~DeadLetterQueue();

  // Reads the records of `failure.ranges` back from Kafka and produces each to the dead-letter
  // topic with `failure`'s code and message. Returns at once; `done` runs on the queue's thread or
  // the producer's. Records no longer in Kafka (deleted by retention) are logged and skipped.
  void Submit(v1::BatchFailure failure, Done done);
  // Produces a record in hand (from `topic`) to the dead-letter topic.
  void SendRecord(const std::string& topic, const v1::KafkaRecord& record, const std::string& code,
                  const std::string& message, Done done);

  const std::string& topic() const { return options_.topic; }

 private:
  class Delivery;
  DeadLetterQueue(DeadLetterOptions options, IngestMetrics* metrics)
      : options_(std::move(options)), metrics_(metrics) {}

  const DeadLetterOptions options_;
  IngestMetrics* const metrics_;
  std::unique_ptr<transform::ErrorTopicWriter> producer_;
  std::unique_ptr<RangeJobQueue> queue_;
};

}  // namespace mcsink::ingest
