// One consumer thread of the ingest service: a librdkafka KafkaConsumer in the connector's group
// that cuts records into batches carrying their exact offset ranges, hands them to a BatchSink,
// and commits to Kafka only the prefix that came back acknowledged. When more than
// max_in_flight_bytes are unacknowledged it stops polling, and pauses its partitions when that
// lasts, instead of buffering.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/common/log.h"
#include "mcsink/ingest/ack_tracker.h"
#include "mcsink/ingest/fenced_batches.h"
#include "mcsink/ingest/ingest_metrics.h"
#include "mcsink/ingest/partition_gate.h"
#include "mcsink/kafka/config.h"
#include "mcsink/v1/pipeline.pb.h"

namespace RdKafka {
class KafkaConsumer;
class Message;
}  // namespace RdKafka

namespace mcsink::ingest {

// Where batches go. Acknowledgements come back through ConsumerWorker::OnAck.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Hands a batch downstream; fails only when the sink is closed for good.
  virtual absl::Status Send(v1::RecordBatch batch) = 0;
  // `record` (of `topic`) cannot be forwarded (over the gRPC message bound): it stands alone as
  // batch `batch_id`, which the sink acknowledges through ConsumerWorker::OnAck once the record
  // is in the dead-letter topic (or stops its partition, under the failure policy "stop"). A
  // sink without a dead-letter path leaves it unacknowledged: never committed, never lost.
  virtual void DeadLetter(uint64_t batch_id, const std::string& topic,
                          const v1::KafkaRecord& record, const std::string& message) {
    MCSINK_LOG(ERROR) << topic << "[" << record.partition() << "] offset " << record.offset()
                      << " (batch " << batch_id << ") left unacknowledged: " << message;
  }
  // Batch `batch_id` was refused as FENCED while its consumer still owns `ranges` (with their
  // current epochs): the sink reads them back and sends them again under the same id, marked
  // redelivery; the answer comes back through ConsumerWorker::OnAck/OnFenced as for any send. A
  // sink that cannot leaves the batch unacknowledged: never committed, read again later.
  virtual void Resend(uint64_t batch_id, std::vector<v1::OffsetRange> ranges) {
    MCSINK_LOG(ERROR) << "batch " << batch_id << " (" << ranges.size()
                      << " ranges) refused as FENCED is left unacknowledged: this sink cannot "
                         "send it again";
  }
};

struct ConsumerOptions {
  std::string connector;
  kafka::Properties kafka_properties;  // bootstrap.servers and any security settings
  std::string group_id;                // connect-<connector>
  std::string topic;
  bool start_from_earliest = true;  // when the group has no committed offset
  int max_batch_records = 10'000;
  int64_t max_batch_bytes = 4 << 20;
  // A record whose key and value exceed this goes to the dead-letter topic instead of
  // downstream: with a batch's max_batch_bytes around it, it must fit the gRPC message bound
  // (64 MiB in GrpcServerOptions).
  int64_t max_record_bytes = 48 << 20;
  absl::Duration linger = absl::Milliseconds(50);  // longest a partial batch waits
  int64_t max_in_flight_bytes = 64 << 20;          // then the worker holds back (below)
  // Over max_in_flight_bytes, the worker first stops polling and waits up to this long for
  // acknowledgements; only a longer stall pauses its partitions in librdkafka. A pause starts a
  // new fetch version, so librdkafka drops what it had prefetched and fetches it again on resume
  // (with short stalls every few hundred ms, most records were fetched twice and the consumer sat
  // waiting for fetches). While holding, librdkafka's prefetch stays bounded by
  // fetch_queue_kbytes, and rebalance callbacks wait for the hold to end (poll() is not called).
  absl::Duration backpressure_hold = absl::Seconds(1);
  int64_t fetch_queue_kbytes = 8 << 10;  // librdkafka's prefetch bound per worker
  absl::Duration commit_interval = absl::Seconds(1);
  absl::Duration revoke_timeout = absl::Seconds(30);  // wait for acks of revoked partitions
  // Exactly-once: claims each assigned partition before consuming it (epochs, offsets already
  // written). Null: at-least-once. Shared by the workers; must outlive them.
  PartitionGate* gate = nullptr;
};

// The librdkafka consumer properties a ConsumerWorker sets on top of the user's (`props`):
// manual commits and offset stores, the initial position, and the prefetch bound
// `fetch_queue_kbytes`. The bench's librdkafka-alone limit uses them too.
void SetConsumerProperties(int64_t fetch_queue_kbytes, bool start_from_earliest,
                           kafka::Properties* props);

struct StoppedPartition {
  TopicPartition tp;
  int64_t offset = 0;  // the record that failed; nothing from here on is committed
  std::string reason;
  std::string code;  // the failure's stable code, e.g. CSV_PARSE or WRITER_FAILED
};

// What a consumer knows of a partition's progress, from its own commits and librdkafka's cached
// watermarks; -1 where unknown.
struct PartitionProgress {
  int64_t committed_offset = -1;  // the next offset to consume, as this consumer committed it
  int64_t log_end_offset = -1;
  int64_t lag = -1;  // log end minus committed (or minus position before the first commit)
};

// Told about a consumer's partitions (e.g. to publish their status). Calls come from the consumer
// threads, concurrently for different workers.
class PartitionObserver {
 public:
  virtual ~PartitionObserver() = default;
  virtual void OnAssigned(int worker, const TopicPartition& tp) = 0;
  virtual void OnRevoked(int worker, const TopicPartition& tp) = 0;
  virtual void OnStopped(int worker, const StoppedPartition& stopped) = 0;
  // Every commit interval, for each assigned partition.
  virtual void OnProgress(int worker, const TopicPartition& tp,
                          const PartitionProgress& progress) = 0;
};

struct ConsumerStats {
  int64_t records = 0;
  int64_t bytes = 0;
  int64_t batches = 0;
  int64_t commits = 0;
  int64_t pauses = 0;   // partitions paused in librdkafka (backpressure beyond the hold)
  int64_t holds = 0;    // polling stopped for backpressure (ConsumerOptions::backpressure_hold)
  int64_t skipped = 0;  // records already in the table (exactly-once recovery), not sent
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

  // Before Start: who hears of assignments, stops and progress (may be null; must outlive the
  // worker).
  void SetObserver(PartitionObserver* observer) { observer_ = observer; }
  void Start();
  // Thread-safe: a batch is durable downstream (or its failures other than FENCED are handled).
  void OnAck(uint64_t batch_id);
  // Thread-safe: the answer to batch `batch_id` named `ranges` as FENCED (pipeline::kFenced), and
  // `with_others` says whether it named other failures too, whose handling acknowledges the batch
  // through OnAck. The ranges this worker still owns under the epoch they were consumed with are
  // sent again through BatchSink::Resend (up to FencedBatches::kDefaultMaxResends times in a row);
  // the batch counts as acknowledged once every part of it is.
  void OnFenced(uint64_t batch_id, std::vector<v1::OffsetRange> ranges, bool with_others,
                std::string message);
  // Thread-safe: the failure policy "stop" hit a record of `stopped.tp` in batch `batch_id`: stop
  // consuming that partition and never commit it at or beyond the record, until restarted.
  // Ignored when the batch no longer counts for the partition (revoked or restarted since it was
  // sent): its records are read again anyway.
  void StopPartition(uint64_t batch_id, StoppedPartition stopped);
  // Thread-safe: the partitions stopped so far are consumed again from their committed offsets
  // (or the initial position when none), under a new epoch (OffsetRange.epoch): with a gate they
  // are claimed again, else their local generation grows. Their batches in flight are forgotten
  // as on a revocation. Returns them at once; the worker thread restarts them on its next round.
  std::vector<TopicPartition> RestartStopped();
  // Sends the partial batch, waits up to `drain` for outstanding acks, commits what was
  // acknowledged and leaves the group.
  void Stop(absl::Duration drain);

  ConsumerStats stats() const;

 private:
  class Rebalancer;
  ConsumerWorker(ConsumerOptions options, BatchSink* sink, int index, IngestMetrics* metrics);
  void ReportProgress();
  void Run();
  // The in-flight gauges, as of now (on every send and every round of acknowledgements).
  void PublishInFlight();
  void ApplyAcks();
  // Decides what to do with a FENCED answer (FencedBatches) and does it.
  void HandleFenced(uint64_t batch_id, std::vector<v1::OffsetRange> ranges, bool with_others,
                    const std::string& message);
  void PausePartitions(const std::vector<TopicPartition>& tps);
  // Pauses or resumes `tps` in librdkafka and remembers which are paused there: librdkafka keeps
  // a partition paused across a rebalance that gives it back to this consumer, so every
  // assignment must resume what it should not hold back (else the partition is never read).
  void SetPaused(const std::vector<TopicPartition>& tps, bool pause);
  uint64_t NextBatchId() { return (static_cast<uint64_t>(index_) << 48) | ++next_seq_; }
  // Hands a record too large to forward to the sink's dead-letter path, as a batch of its own.
  void DeadLetterOversized(const RdKafka::Message& msg);
  void Flush();
  // Sends a batch without records that carries flush_hint, when batches are in flight: the
  // worker is about to wait for their acknowledgements (revocation, drain), so downstream must
  // commit them now rather than on the writer's interval (up to 30 s per rebalance otherwise).
  // Its id is not tracked, so its own acknowledgement is ignored.
  void HintFlush();
  void Commit(bool sync);
  void ApplyBackpressure();
  // Waits (applying acks) until `done` holds or `deadline` passes.
  void WaitForAcks(const std::function<bool()>& done, absl::Time deadline);
  void OnRevoke(const std::vector<TopicPartition>& revoked);
  // The worker-thread half of RestartStopped.
  void Restart(const std::vector<TopicPartition>& tps);
  // Moves the position of assigned partition `tp` back to its committed offset (or the initial
  // position when the group has none).
  absl::Status SeekToCommitted(const TopicPartition& tp);
  // The epoch of what is consumed now from `tp` (OffsetRange.epoch).
  int64_t EpochOf(const TopicPartition& tp) const;
  // Exactly-once (options_.gate): claims newly assigned partitions, retrying until it succeeds
  // or the worker stops (then they are paused: nothing is read without a claim).
  void ClaimPartitions(const std::vector<TopicPartition>& tps);
  // Acknowledges `msg` locally, without sending it, when its claim says it is already written.
  bool SkipIfWritten(const RdKafka::Message& msg);
  void CountSpansToSkip();

  const ConsumerOptions options_;
  BatchSink* const sink_;
  const int index_;
  IngestMetrics* const metrics_;
  PartitionObserver* observer_ = nullptr;
  std::unique_ptr<Rebalancer> rebalancer_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  absl::Duration drain_ = absl::ZeroDuration();

  // Owned by the worker thread.
  AckTracker tracker_;
  uint64_t next_seq_ = 0;
  v1::RecordBatch batch_;
  int64_t batch_bytes_ = 0;   // key and value bytes of batch_
  int64_t batch_memory_ = 0;  // estimated heap memory batch_ holds (ToKafkaRecord)
  absl::Time batch_started_;
  absl::Time last_commit_;
  bool paused_ = false;
  std::set<TopicPartition> paused_in_kafka_;  // what librdkafka holds paused (SetPaused)
  std::vector<TopicPartition> assignment_;
  std::vector<StoppedPartition> stopped_;
  std::map<TopicPartition, int64_t> committed_;      // last offsets this consumer committed
  std::map<TopicPartition, PartitionClaim> claims_;  // of assigned partitions, with a gate
  size_t spans_to_skip_ = 0;  // over claims_: none is the common case, checked per record
  // Without a gate: the epoch of each partition restarted at least once (absent: 0).
  std::map<TopicPartition, int64_t> generations_;
  FencedBatches fenced_;

  mutable absl::Mutex mu_;
  std::vector<uint64_t> acks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, StoppedPartition>> stop_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<TopicPartition> restart_requests_ ABSL_GUARDED_BY(mu_);
  struct FencedAnswer {
    uint64_t batch_id = 0;
    std::vector<v1::OffsetRange> ranges;
    bool with_others = false;
    std::string message;
  };
  std::vector<FencedAnswer> fenced_answers_ ABSL_GUARDED_BY(mu_);
  ConsumerStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mcsink::ingest
