// The exactly-once journal's protocol, without Kafka (docs/exactly-once.md): record keys and
// encoding, which journal partition a connector uses, the fencing rule, and what a replay of the
// journal says about a source partition. KafkaJournal (kafka_journal.h) moves these records
// through the offset topic; everything that decides something is here, so it is tested alone.
//
// The fencing rule. Records are totally ordered (one journal partition per connector). An ingest
// owner claims a source partition P by appending FENCE(P); its epoch is 1 + the FENCE's journal
// offset, and every range it consumes carries that epoch. A session's PENDING record is valid
// when, for each of its ranges, the latest FENCE of the range's partition before the PENDING has
// exactly the range's epoch. A writer commits only a session whose PENDING is valid; a recovery
// rolls forward only valid PENDINGs. So once a new owner's FENCE is appended, a stale owner's
// later PENDING is invalid and never committed, and its earlier ones are seen (and finished) by
// the new owner's recovery, which reads the journal up to its FENCE.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mcsink/ingest/ack_tracker.h"
#include "mcsink/ingest/partition_gate.h"
#include "mcsink/journal/journal.pb.h"
#include "mcsink/writer/commit_journal.h"

namespace mcsink::journal {

using ingest::OffsetSpan;
using ingest::TopicPartition;

// Record keys. A session's DONE has its own key, so compaction never lets a later record of
// the session (a stale writer's repeated PENDING) replace the proof that it was committed.
std::string FenceKey(const std::string& topic, int32_t partition);
// "done-<upload id>" for DONE, else "pending-<upload id>" (PENDING and ABORTED).
std::string SessionKey(const SessionEntry& session);

// The partition of the offset topic holding a connector's journal: a stable hash (FNV-1a, 32
// bit) of the connector name modulo the partition count, the same in every process and version.
int32_t JournalPartition(const std::string& connector, int partition_count);

// A record's value: the JSON form of the entry (readable with any Kafka console consumer).
std::string EncodeEntry(const JournalEntry& entry);
// InvalidArgument for a value that is not a journal entry (unknown fields are allowed, so a
// newer version's records still parse).
absl::StatusOr<JournalEntry> DecodeEntry(const std::string& value);

// The PENDING entry for a session the writer is about to commit.
SessionEntry PendingEntry(const writer::CommitRecord& record, const std::string& writer_id);

// The latest FENCE of each source partition, in journal order.
class FenceBook {
 public:
  void Apply(int64_t offset, const FenceEntry& fence);
  // 1 + the journal offset of the latest FENCE of `tp`; 0 when it was never claimed.
  int64_t EpochOf(const TopicPartition& tp) const;
  // OK when every range of `session` carries its partition's current epoch (the session is
  // valid at this point of the journal); otherwise FailedPrecondition naming the first range
  // that was claimed by a newer owner.
  absl::Status Check(const SessionEntry& session) const;

 private:
  std::map<TopicPartition, int64_t> epochs_;
};

// A replay of the journal from its beginning: the fences, and every session not pruned with
// whether its PENDING was valid where it stood.
class JournalReplay {
 public:
  struct Session {
    SessionEntry entry;   // the latest record of the session
    bool valid = false;   // its PENDING passed the fencing rule (DONE implies it did)
    int64_t offset = -1;  // of the latest record
  };

  // Applies the record at `offset`; `value` is null for a tombstone. Returns InvalidArgument for
  // a value that does not decode (the caller logs it and goes on: it may belong to another tool).
  absl::Status Apply(int64_t offset, const std::string& key, const std::string* value);

  const FenceBook& fences() const { return fences_; }
  const std::map<std::string, Session>& sessions() const { return sessions_; }

 private:
  FenceBook fences_;
  std::map<std::string, Session> sessions_;  // by upload id
};

// The offsets of `tp` that `done` sessions wrote: the ranges of `tp` of every batch all of whose
// row groups are in done sessions. A batch with some but not all of its groups done is counted in
// *partial (it is read again, so its done groups' rows are written twice: see the docs).
std::vector<OffsetSpan> WrittenSpans(const std::vector<const SessionEntry*>& done,
                                     const TopicPartition& tp, int64_t* partial);

// Whether every range of `session` ends below the committed offset of its partition (absent
// from `committed`: nothing committed), so the entry can be pruned.
bool BelowCommitted(const SessionEntry& session,
                    const std::map<TopicPartition, int64_t>& committed);

// Whether `session` has a range of `tp`.
bool Touches(const SessionEntry& session, const TopicPartition& tp);

}  // namespace mcsink::journal
