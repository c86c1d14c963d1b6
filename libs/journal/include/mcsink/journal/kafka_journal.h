// The exactly-once journal in the connector's offset topic (docs/exactly-once.md; the protocol
// is in journal_state.h). One object serves both sides:
//  - the writer's CommitJournal: BeforeCommit appends PENDING (the session's blocks, ranges and
//    their epochs), waits until its own tail of the journal reaches that record and refuses the
//    commit (FencedError, not retried; ABORTED appended) when a newer FENCE of one of the ranges'
//    partitions precedes it, or an earlier session holds some of its ranges (first PENDING wins);
//    AfterCommit appends DONE. Unwritten checks a redelivered batch against the journal.
//  - ingest's PartitionGate: Claim appends a FENCE per partition, replays the journal up to the
//    last of them, finishes every valid PENDING touching those partitions (asks MaxCompute:
//    committed -> DONE; still open -> commit it with the journaled blocks, DONE; gone -> ABORTED),
//    prunes entries below the group's committed offsets, and returns each partition's epoch and
//    the offsets already written.
//
//   auto journal = KafkaJournal::Create({.connector = "orders", ...}, &tunnel_backend);
//   TableWriter writer(options, &tunnel_backend, callbacks, {.journal = journal->get()});
//   consumer_options.gate = journal->get();
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/ingest/partition_gate.h"
#include "mcsink/journal/journal_metrics.h"
#include "mcsink/journal/journal_state.h"
#include "mcsink/kafka/config.h"
#include "mcsink/v1/connector.pb.h"
#include "mcsink/writer/commit_journal.h"
#include "mcsink/writer/tunnel_backend.h"

namespace RdKafka {
class Producer;
class KafkaConsumer;
}  // namespace RdKafka

namespace mcsink::kafka {
class Admin;
}

namespace mcsink::journal {

struct KafkaJournalOptions {
  std::string connector;
  std::string offset_topic;  // the journal's topic (topics.offset_topic), compacted
  std::string group_id;      // the connector's consumer group, whose commits allow pruning
  std::string source_topic;
  kafka::Properties kafka_properties;  // bootstrap.servers and security settings
  // Longest wait for one journal append or for a read to reach a record.
  absl::Duration timeout = absl::Seconds(30);
  // Names this process in the records (for people); default host/pid/random.
  std::string owner;
  // Where the journal's metrics go (JournalMetrics); null: none. Must outlive the journal.
  prometheus::Registry* registry = nullptr;
};

// The options for a normalized connector config.
KafkaJournalOptions JournalOptionsFor(const v1::ConnectorConfig& connector,
                                      const kafka::Properties& kafka_properties);

class KafkaJournal final : public writer::CommitJournal, public ingest::PartitionGate {
 public:
  // `resolver` (MaxCompute, to finish pending sessions) is needed by Claim and Unwritten; without
  // it, a pending session they must finish is an error. It must outlive the journal.
  static absl::StatusOr<std::unique_ptr<KafkaJournal>> Create(KafkaJournalOptions options,
                                                              writer::TunnelBackend* resolver);
  ~KafkaJournal() override;
  KafkaJournal(const KafkaJournal&) = delete;
  KafkaJournal& operator=(const KafkaJournal&) = delete;

  absl::Status BeforeCommit(const writer::CommitRecord& record) override;
  absl::Status AfterCommit(const writer::CommitRecord& record) override;
  // Brings the writer's tail up to the journal's end (its high watermark now), finishes each
  // valid PENDING holding offsets of `ranges` with Resolve (needs the resolver), and returns what
  // no committed session holds. Counted in mcsink_journal_redelivered_batches_total.
  absl::StatusOr<std::vector<v1::OffsetRange>> Unwritten(
      const std::vector<v1::OffsetRange>& ranges) override;

  absl::StatusOr<std::map<ingest::TopicPartition, ingest::PartitionClaim>> Claim(
      const std::vector<ingest::TopicPartition>& partitions) override;

  // For an offset reset (ResetOffsets), while the connector's ingest and writers are stopped:
  // forgets every session touching `partitions`, so the records they wrote are written again
  // when read again instead of being skipped. Returns how many sessions were forgotten.
  absl::StatusOr<int> ForgetSessions(const std::vector<ingest::TopicPartition>& partitions);

  // The offset topic's partition that holds this connector's journal; -1 until the topic was
  // found (it may be created after this journal, by another service).
  int32_t partition() const { return partition_.load(); }

  // One append's outcome (public only for the delivery callback).
  struct Delivery;

 private:
  KafkaJournal(KafkaJournalOptions options, writer::TunnelBackend* resolver);
  absl::Status Init();
  // Finds the journal's partition once the offset topic exists; Unavailable until then.
  absl::Status ResolvePartition();

  // Appends a record (value null: a tombstone) and returns its offset once it is durable.
  absl::StatusOr<int64_t> Append(const std::string& key, const std::string* value);
  std::shared_ptr<Delivery> StartAppend(const std::string& key, const std::string* value);
  absl::StatusOr<int64_t> AwaitAppend(const std::shared_ptr<Delivery>& delivery,
                                      const std::string& what);

  // The writer's tail of the journal: the JournalIndex (fences, written and pending ranges), and
  // the verdict on this journal's own PENDINGs.
  absl::Status StartTail() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until the tail has applied every record appended before this call.
  absl::Status CatchUp();
  // Replays the journal from its beginning through `last_offset`.
  absl::StatusOr<JournalReplay> ReplayThrough(int64_t last_offset);
  // Makes sure a valid PENDING session is either committed (returns true, DONE appended) or
  // will never be (false, ABORTED appended).
  absl::StatusOr<bool> Resolve(const SessionEntry& session);
  // The journal partition's first offset still in the log and its end (the next offset).
  absl::Status Watermarks(int64_t* low, int64_t* high);
  // A reader of the journal partition from `start_offset`; a record appended while it waits
  // reaches it within `fetch_wait`.
  absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> NewReader(int64_t start_offset,
                                                                    absl::Duration fetch_wait);

  const KafkaJournalOptions options_;
  writer::TunnelBackend* const resolver_;
  std::unique_ptr<JournalMetrics> metrics_;  // null without a registry
  std::atomic<int32_t> partition_{-1};
  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<kafka::Admin> admin_;
  std::thread poller_;
  std::atomic<bool> stopping_{false};

  absl::Mutex claim_mu_;  // one Claim at a time per process: they share the replay's work

  mutable absl::Mutex mu_;
  std::thread tail_ ABSL_GUARDED_BY(mu_);
  bool tail_started_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status tail_error_ ABSL_GUARDED_BY(mu_);
  JournalIndex index_ ABSL_GUARDED_BY(mu_);
  int64_t tail_position_ ABSL_GUARDED_BY(mu_) = -1;  // next offset the tail will apply
  // Verdicts on this journal's own PENDINGs, by offset, until BeforeCommit takes them.
  struct Verdict {
    absl::Status status;
    bool duplicate = false;  // refused by first-PENDING-wins
  };
  std::map<int64_t, Verdict> verdicts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mcsink::journal
