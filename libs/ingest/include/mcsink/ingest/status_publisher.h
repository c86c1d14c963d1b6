// Publishes the status of every partition ingest owns to the connector's status topic, where
// the controller and `mcsinkctl status` read it: a PartitionStatus (controller.proto) as proto3
// JSON with the proto's field names, keyed `partition-<topic>-<partition>` (the key the
// controller's ParsePartitionKey reads). Published on assignment (RUNNING), on revocation
// (UNASSIGNED), when the failure policy stops a partition (STOPPED, with last_error), when
// records of it are dead-lettered (last_error), and every `interval` with the committed offset,
// log end offset and lag that the consumers already cache.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/ingest/consumer_worker.h"
#include "mcsink/kafka/config.h"
#include "mcsink/v1/controller.pb.h"

namespace RdKafka {
class Producer;
}

namespace mcsink::ingest {

struct StatusPublisherOptions {
  std::string connector;
  std::string topic;                   // the connector's topics.status_topic
  kafka::Properties kafka_properties;  // bootstrap.servers and any security settings
  std::string host;                    // owner = <host>/ingest-<worker>; empty: gethostname()
  absl::Duration interval = absl::Seconds(10);  // between progress reports of a partition
};

// The key of a partition's status record.
std::string PartitionStatusKey(const std::string& topic, int32_t partition);

class StatusPublisher : public PartitionObserver {
 public:
  static absl::StatusOr<std::unique_ptr<StatusPublisher>> Create(StatusPublisherOptions options);
  // Waits up to 5 s for what is being produced.
  ~StatusPublisher() override;

  void OnAssigned(int worker, const TopicPartition& tp) override;
  void OnRevoked(int worker, const TopicPartition& tp) override;
  void OnStopped(int worker, const StoppedPartition& stopped) override;
  void OnProgress(int worker, const TopicPartition& tp, const PartitionProgress& progress) override;
  // Records from `offset` on were produced to the dead-letter topic because of `code`.
  void OnDeadLettered(const TopicPartition& tp, int64_t offset, const std::string& code,
                      const std::string& message);

  // Waits up to `timeout` until what was published is acknowledged by the broker.
  void Flush(absl::Duration timeout);

 private:
  struct Entry {
    v1::PartitionStatus status;
    absl::Time published = absl::InfinitePast();
  };
  explicit StatusPublisher(StatusPublisherOptions options) : options_(std::move(options)) {}
  Entry& EntryFor(const TopicPartition& tp) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string Owner(int worker) const;
  void Publish(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const StatusPublisherOptions options_;
  std::unique_ptr<RdKafka::Producer> producer_;
  mutable absl::Mutex mu_;
  std::map<TopicPartition, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mcsink::ingest
