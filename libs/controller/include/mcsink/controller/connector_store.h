// The connectors the control plane knows, kept in Kafka so a restarted or second controller
// sees the same: the registry topic (default `mcsink-connectors`, 1 partition, compact) holds
// key = connector name, value = ConnectorRecord (JSON), a tombstone once deleted. Each record is
// also written to the connector's own config topic under `connector-<name>`.
//
// Every controller follows the registry from its beginning, so its view converges with every
// other controller's; a write returns once this controller has read it back, so a caller reads
// its own writes. Changes are delivered to watchers (WatchConnectors) in registry order.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/kafka/config.h"
#include "mcsink/kafka/topic_io.h"
#include "mcsink/v1/controller.pb.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace RdKafka {
class KafkaConsumer;
}

namespace mcsink::controller {

struct ConnectorStoreOptions {
  // The controller's Kafka cluster: bootstrap.servers and any security settings.
  kafka::Properties kafka;
  std::string registry_topic = "mcsink-connectors";
  // How long Open may take to create the registry and read it to its end, and a write to be
  // acknowledged and read back.
  absl::Duration timeout = absl::Seconds(60);
  // Writes each record to the connector's config topic too. Tests of the registry alone turn
  // it off.
  bool write_config_topics = true;
  // Where `mcsink_controller_connectors{target_state}` is kept; may be null.
  prometheus::Registry* metrics = nullptr;
};

class ConnectorStore;

// The events for one watcher: the state when it started (an UPSERT per connector), then every
// change. A watcher that falls more than kMaxQueued events behind is cut off (it re-watches).
class Subscription {
 public:
  static constexpr size_t kMaxQueued = 10'000;
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // The next event; nullopt when `timeout` passed first. Aborted once the watcher fell too far
  // behind, Cancelled once the store closed.
  absl::StatusOr<std::optional<v1::ConnectorEvent>> Next(absl::Duration timeout);

 private:
  friend class ConnectorStore;
  Subscription(ConnectorStore* store, std::string name) : store_(store), name_(std::move(name)) {}
  void Push(const v1::ConnectorEvent& event);  // called with the store's mutex held
  void Close();

  ConnectorStore* const store_;
  const std::string name_;  // empty: every connector
  absl::Mutex mu_;
  std::deque<v1::ConnectorEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class ConnectorStore {
 public:
  // Creates the registry topic when missing (or checks it: 1 partition, compact), reads it to
  // its end and keeps following it.
  static absl::StatusOr<std::unique_ptr<ConnectorStore>> Open(ConnectorStoreOptions options);
  ~ConnectorStore();
  ConnectorStore(const ConnectorStore&) = delete;
  ConnectorStore& operator=(const ConnectorStore&) = delete;

  std::optional<v1::ConnectorRecord> Get(const std::string& name) const;
  std::vector<v1::ConnectorRecord> List() const;  // by name

  // Read-modify-write of one connector, serialized with this controller's other writes:
  // `change` gets the current record (nullopt when there is none) and returns the new one, or
  // an error that is returned as it is. The store stamps version, created_at_ms and
  // updated_at_ms, writes the config topic, then the registry, and returns the record once it
  // has read it back.
  using Change = std::function<absl::StatusOr<v1::ConnectorRecord>(
      const std::optional<v1::ConnectorRecord>& current)>;
  absl::StatusOr<v1::ConnectorRecord> Update(const std::string& name, const Change& change);

  // Tombstones the connector in its config topic (when that still exists) and in the registry.
  // NotFound when unknown.
  absl::Status Delete(const std::string& name);

  // Events for connector `name` (empty: every connector), starting with the current state (an
  // UPSERT each, then one SYNCED).
  std::unique_ptr<Subscription> Watch(const std::string& name);

  const std::string& registry_topic() const { return options_.registry_topic; }

 private:
  friend class Subscription;
  explicit ConnectorStore(ConnectorStoreOptions options);
  absl::Status Start();
  void Follow();
  void Apply(const std::string& key, const std::optional<std::string>& value, int64_t offset);
  void UpdateMetricsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WaitApplied(int64_t offset);
  void Unsubscribe(Subscription* subscription);

  const ConnectorStoreOptions options_;
  std::unique_ptr<kafka::KeyedWriter> writer_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::thread follower_;
  std::atomic<bool> stop_{false};

  absl::Mutex write_mu_;  // one read-modify-write at a time
  mutable absl::Mutex mu_;
  std::map<std::string, v1::ConnectorRecord> records_ ABSL_GUARDED_BY(mu_);
  int64_t applied_ ABSL_GUARDED_BY(mu_) = 0;  // the next registry offset to read
  std::string follow_error_ ABSL_GUARDED_BY(mu_);
  std::set<Subscription*> subscriptions_ ABSL_GUARDED_BY(mu_);
  prometheus::Family<prometheus::Gauge>* gauges_ = nullptr;
};

}  // namespace mcsink::controller
