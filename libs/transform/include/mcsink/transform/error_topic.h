// Records that could not be converted go to the connector's error topic, never silently
// dropped: the original key, value and timestamp, with headers that say why. Framework-level
// failures go to the dead-letter topic (ingest produces them with this same writer) with the same
// context. This file is the one place the header names are defined.
//
// Exactly-once (docs/exactly-once.md, "The error and dead-letter topics"): with an offset topic
// in its options, the writer puts each source record (source topic, partition, offset) into a
// destination topic once, also across crashes, restarts and replays of the same batch. It keeps,
// per destination and source partition, the source offsets already produced (ProducedSpans) in
// the connector's offset topic, in a partition other than the journal's, and writes them in the
// same Kafka transaction as the records. A record whose offset is already there is not produced
// again and is reported delivered. Records of aborted transactions stay in the log, so consumers
// of the error and dead-letter topics must read with isolation.level=read_committed (librdkafka's
// default; the Java client's default is read_uncommitted) to see each record once.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/kafka/config.h"
#include "mcsink/v1/pipeline.pb.h"

namespace RdKafka {
class Producer;
class DeliveryReportCb;
}  // namespace RdKafka

namespace mcsink::kafka {
class Admin;
}

namespace mcsink::transform {

// Header names on error-topic and dead-letter-topic records.
inline constexpr char kHeaderConnector[] = "mcsink.connector";
inline constexpr char kHeaderTopic[] = "mcsink.source.topic";
inline constexpr char kHeaderPartition[] = "mcsink.source.partition";
inline constexpr char kHeaderOffset[] = "mcsink.source.offset";
inline constexpr char kHeaderCode[] = "mcsink.error.code";
inline constexpr char kHeaderColumn[] = "mcsink.error.column";
inline constexpr char kHeaderMessage[] = "mcsink.error.message";

struct ErrorRecord {
  std::string topic;  // where the record came from
  const v1::KafkaRecord* record = nullptr;
  std::string code;
  std::string column;
  std::string message;
};

// A set of source offsets as sorted, disjoint, non-adjacent inclusive spans.
class ProducedSpans {
 public:
  bool Contains(int64_t offset) const;
  // Adds [first, last], merging with the spans it overlaps or touches.
  void Add(int64_t first, int64_t last);
  void Add(int64_t offset) { Add(offset, offset); }
  // Every offset below `offset` counts as produced from now on: the spans below it collapse into
  // one, [0, offset - 1], so memory stays small. For offsets below the consumer group's committed
  // offset: the connector reads them again only in a stale batch (a zombie's, after the group
  // moved on), whose failed records the live owner has already produced.
  void SettleBelow(int64_t offset) {
    if (offset > 0) Add(0, offset - 1);
  }
  size_t size() const { return spans_.size(); }
  bool empty() const { return spans_.empty(); }
  // first -> last
  const std::map<int64_t, int64_t>& spans() const { return spans_; }

 private:
  std::map<int64_t, int64_t> spans_;
};

// The offset-topic key of the spans of (`role`, `destination`, `source_topic`, `partition`).
std::string ProducedSpansKey(const std::string& role, const std::string& destination,
                             const std::string& source_topic, int32_t partition);

// The offset-topic partition holding a connector's produced spans: the one after the journal's
// (journal::JournalPartition, StablePartition of the connector name), so the writer's open
// transactions never hold back the journal's read_committed readers. With one partition it is the
// journal's.
int32_t ProducedSpansPartition(const std::string& connector, int partition_count);

struct ErrorTopicOptions {
  kafka::Properties properties;  // bootstrap.servers and any security settings
  std::string connector;
  // Names the producer's client.id (<connector>-<role>), its transactional.id (the same: a
  // restarted process fences its crashed predecessor) and the spans' keys.
  std::string role = "errors";
  // Exactly-once: the connector's offset topic (topics.offset_topic). Empty: at-least-once (an
  // idempotent producer; a replayed batch produces its failed records again).
  std::string offset_topic;
  // The connector's consumer group: offsets below its committed offsets are settled
  // (ProducedSpans::SettleBelow), so the spans stay small. Empty: never settled.
  std::string consumer_group;
  // How long an open transaction of a crashed process can hold back read_committed readers of
  // the destination topics.
  absl::Duration transaction_timeout = absl::Seconds(10);
  // At most this many records (and bytes of key and value) per transaction, and queued.
  size_t max_batch_records = 10000;
  size_t max_queued_bytes = 64 << 20;
};

class ErrorTopicWriter {
 public:
  // Called once per Send: OK when the record is in the topic (the broker acknowledged it; in
  // exactly-once mode: its transaction committed, or it was there already), else why it is not.
  using Done = std::function<void(const absl::Status& delivery)>;

  static absl::StatusOr<std::unique_ptr<ErrorTopicWriter>> Create(ErrorTopicOptions options);
  // At-least-once; `client_suffix` is the role.
  static absl::StatusOr<std::unique_ptr<ErrorTopicWriter>> Create(
      const kafka::Properties& properties, std::string connector,
      const std::string& client_suffix = "errors");
  // Waits up to 10 s for outstanding deliveries; what is still queued then fails (Cancelled).
  ~ErrorTopicWriter();

  // Produces `error` to `topic` (acks=all); `done` runs on the writer's thread once the record is
  // in the topic or failed (or at once, Cancelled, when the writer is stopping). `error.record` is
  // copied before Send returns. In exactly-once mode the records sent meanwhile are produced in one
  // transaction; Send blocks while more than max_queued_bytes are queued.
  void Send(const std::string& topic, const ErrorRecord& error, Done done);
  // Waits up to `timeout` for outstanding deliveries.
  void Flush(absl::Duration timeout);

  bool exactly_once() const { return !options_.offset_topic.empty(); }

 private:
  class Reports;
  struct Queued;
  explicit ErrorTopicWriter(ErrorTopicOptions options);
  absl::Status Start();
  // Exactly-once: the transaction thread's loop, one transaction per turn.
  void Run();
  // Puts `batch` into the destination topics in one transaction (retrying once after a fence);
  // each item's status says whether it is in the topic.
  std::vector<absl::Status> Transact(std::vector<Queued>& batch);
  absl::Status TransactOnce(std::vector<Queued>& batch, std::vector<absl::Status>& results);
  // A transactional producer, its transactions initialized (fencing a predecessor with the same
  // transactional.id) and the spans loaded, unless already so.
  absl::Status EnsureReady();
  absl::Status LoadSpans();
  // Settles the spans of `source_topic` below the group's committed offsets.
  void Prune(const std::string& source_topic);
  void ResetProducer();
  absl::StatusOr<std::unique_ptr<RdKafka::Producer>> NewProducer(bool transactional);

  const ErrorTopicOptions options_;
  std::unique_ptr<Reports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> stop_{false};
  std::thread poller_;  // at-least-once: serves delivery reports

  // Exactly-once. The transaction thread owns these (no lock).
  std::unique_ptr<kafka::Admin> admin_;
  int32_t spans_partition_ = -1;
  bool spans_loaded_ = false;
  struct Spans {
    std::string destination, source_topic;
    int32_t partition = 0;
    ProducedSpans committed;  // as in the latest committed value of the key
  };
  std::map<std::string, Spans> spans_;            // by key
  std::map<std::string, absl::Time> last_prune_;  // by source topic
  std::thread transactor_;

  absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t in_transaction_ ABSL_GUARDED_BY(mu_) = 0;  // taken from the queue, not yet done
};

}  // namespace mcsink::transform
