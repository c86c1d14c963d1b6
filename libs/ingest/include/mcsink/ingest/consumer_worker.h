// One consumer thread of the ingest service: a librdkafka KafkaConsumer in the connector's group
// that cuts records into batches carrying their exact offset ranges, hands them to a BatchSink,
// and commits to Kafka only the prefix that came back acknowledged. When more than
// max_in_flight_bytes are unacknowledged it pauses its partitions instead of buffering.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/ingest/ack_tracker.h"
#include "mcsink/ingest/ingest_metrics.h"
#include "mcsink/kafka/config.h"
#include "mcsink/v1/pipeline.pb.h"

namespace RdKafka {
class KafkaConsumer;
}

namespace mcsink::ingest {

// Where batches go. Acknowledgements come back through ConsumerWorker::OnAck.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Hands a batch downstream; fails only when the sink is closed for good.
  virtual absl::Status Send(v1::RecordBatch batch) = 0;
};

struct ConsumerOptions {
  std::string connector;
  kafka::Properties kafka_properties;  // bootstrap.servers and any security settings
  std::string group_id;                // connect-<connector>
  std::string topic;
  bool start_from_earliest = true;  // when the group has no committed offset
  int max_batch_records = 10'000;
  int64_t max_batch_bytes = 4 << 20;
  absl::Duration linger = absl::Milliseconds(50);  // longest a partial batch waits
  int64_t max_in_flight_bytes = 64 << 20;          // then the worker pauses its partitions
  int64_t fetch_queue_kbytes = 8 << 10;            // librdkafka's prefetch bound per worker
  absl::Duration commit_interval = absl::Seconds(1);
  absl::Duration revoke_timeout = absl::Seconds(30);  // wait for acks of revoked partitions
};

struct StoppedPartition {
  TopicPartition tp;
  int64_t offset = 0;  // the record that failed; nothing from here on is committed
  std::string reason;
};

struct ConsumerStats {
  int64_t records = 0;
  int64_t bytes = 0;
  int64_t batches = 0;
  int64_t commits = 0;
  int64_t pauses = 0;
  std::vector<TopicPartition> assignment;
  std::vector<StoppedPartition> stopped;
};

class ConsumerWorker {
 public:
  // `index` makes batch ids unique across the workers of a process: id >> 48 == index.
  // `metrics` may be null; it must outlive the worker.
  static absl::StatusOr<std::unique_ptr<ConsumerWorker>> Create(ConsumerOptions options,
                                                                BatchSink* sink, int index,
                                                                IngestMetrics* metrics = nullptr);
  ~ConsumerWorker();

  static int WorkerIndexOf(uint64_t batch_id) { return static_cast<int>(batch_id >> 48); }

  void Start();
  // Thread-safe: a batch is durable downstream.
  void OnAck(uint64_t batch_id);
  // Thread-safe: the failure policy "stop" hit a record of `stopped.tp`: stop consuming that
  // partition and never commit it at or beyond the record, until restarted.
  void StopPartition(StoppedPartition stopped);
  // Sends the partial batch, waits up to `drain` for outstanding acks, commits what was
  // acknowledged and leaves the group.
  void Stop(absl::Duration drain);

  ConsumerStats stats() const;

 private:
  class Rebalancer;
  ConsumerWorker(ConsumerOptions options, BatchSink* sink, int index, IngestMetrics* metrics);
  void ReportProgress();
  void Run();
  void ApplyAcks();
  void PausePartitions(const std::vector<TopicPartition>& tps);
  void Flush();
  void Commit(bool sync);
  void ApplyBackpressure();
  // Waits (applying acks) until `done` holds or `deadline` passes.
  void WaitForAcks(const std::function<bool()>& done, absl::Time deadline);
  void OnRevoke(const std::vector<TopicPartition>& revoked);

  const ConsumerOptions options_;
  BatchSink* const sink_;
  const int index_;
  IngestMetrics* const metrics_;
  std::unique_ptr<Rebalancer> rebalancer_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  absl::Duration drain_ = absl::ZeroDuration();

  // Owned by the worker thread.
  AckTracker tracker_;
  uint64_t next_seq_ = 0;
  v1::RecordBatch batch_;
  int64_t batch_bytes_ = 0;
  absl::Time batch_started_;
  absl::Time last_commit_;
  bool paused_ = false;
  std::vector<TopicPartition> assignment_;
  std::vector<StoppedPartition> stopped_;

  mutable absl::Mutex mu_;
  std::vector<uint64_t> acks_ ABSL_GUARDED_BY(mu_);
  std::vector<StoppedPartition> stop_requests_ ABSL_GUARDED_BY(mu_);
  ConsumerStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mcsink::ingest
