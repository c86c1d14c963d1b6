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
//
// First PENDING wins. Stream clients re-send unacknowledged batches after a reconnect (and ingest
// re-sends a batch refused as FENCED) under the SAME epoch, so the fencing rule alone lets two
// copies of one batch through. A PENDING is therefore valid only if, in addition, no earlier
// session of the journal still holds an overlapping range of the same source partition under
// the same epoch: a DONE session whose batch copy is complete, or a valid PENDING not yet
// finished (DONE or ABORTED), holding another copy of the batch (JournalBatch.origin). The parts
// of one copy in several sessions (one per pt) share an origin and never conflict.
//  - Only the same epoch is compared. Under one epoch one owner consumes each offset once, so
//    the same offsets under the same epoch are copies of one record. Under different epochs
//    overlapping offsets are legitimate only after an offset reset (ForgetSessions), where they
//    must be written again; otherwise the fencing rule already settles them (an older epoch's
//    PENDING after the newer FENCE is invalid; one before it is finished by the new owner's
//    recovery, which then skips its offsets).
//  - A DONE part of a copy whose other parts were never committed (a batch spanning several pt
//    values, its writer died between commits) does not block: the batch is written again and
//    the committed part is duplicated, the documented multi-pt limit; blocking it would refuse
//    every later copy forever.
// Every process reading the journal (writers' tails, ingest recovery) computes the same verdict
// from the same prefix, so a refused PENDING is never rolled forward even if its writer died
// before it could append ABORTED.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
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

// The PENDING entry for a session the writer is about to commit; each batch's origin is
// "<writer_id>#<batch id>".
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

// The kind of a journal record, from its key. Records with other keys (other kinds a later
// version may add to the offset topic) are skipped by every reader, silently.
enum class RecordKind { kFence, kPending, kDone, kOther };
RecordKind KindOfKey(const std::string& key);

// Which copy of a batch `batch` is (JournalBatch.origin, or its ranges for older records).
std::string OriginOf(const JournalBatch& batch);

// What the journal read so far says is written, or about to be, per source partition and epoch:
// the state both the fencing rule and first-PENDING-wins decide on, and what a redelivered batch
// is checked against. Kept by the writer's tail of the journal for its whole life, so its memory
// is bounded:
//  - committed ranges are merged spans per (partition, epoch), and only the partition's current
//    epoch is kept (a FENCE drops older epochs: a batch of an older epoch fails the fencing rule
//    at commit, so forgetting what it wrote cannot let a duplicate through). Under one epoch the
//    offsets are consumed in order and a refused batch is re-sent under the same epoch, filling
//    its hole, so the spans stay few; past kMaxSpans per (partition, epoch) the lowest are
//    dropped (offsets that old are acknowledged upstream and no longer re-sent);
//  - valid PENDING sessions not yet finished, and batch copies not yet complete: what writers
//    have in flight, plus parts of multi-pt batches whose other parts were never committed
//    (rare; dropped with their epoch at the partition's next FENCE).
class JournalIndex {
 public:
  static constexpr size_t kMaxSpans = 4096;

  struct Applied {
    // The record's session (PENDING, DONE or ABORTED), if it is one.
    std::optional<SessionEntry> session;
    // For a PENDING: OK when it is valid (fencing rule and first-PENDING-wins), else a
    // FencedError saying why not.
    absl::Status verdict;
    // The verdict refused it by first-PENDING-wins (not by the fencing rule).
    bool duplicate = false;
  };
  // Applies the record at `offset` (`value` null: a tombstone). Records of another kind are
  // skipped. InvalidArgument for a value that does not decode (the caller logs it and goes on).
  absl::StatusOr<Applied> Apply(int64_t offset, const std::string& key, const std::string* value);

  const FenceBook& fences() const { return fences_; }

  // The valid PENDING sessions holding offsets of `ranges` (same partition and epoch): they must
  // be finished (committed or aborted) before the ranges can be called written or not.
  std::vector<SessionEntry> PendingOverlapping(const std::vector<v1::OffsetRange>& ranges) const;
  // The parts of `ranges` that no committed session holds (each with its range's epoch), in
  // order; empty when all of them are written.
  std::vector<v1::OffsetRange> Unwritten(const std::vector<v1::OffsetRange>& ranges) const;

 private:
  struct Copy {
    std::vector<JournalRange> ranges;
    int total_groups = 0;
    std::map<std::string, int> done;  // upload id -> groups, of DONE sessions
    std::set<std::string> pending;    // upload ids of valid PENDINGs holding parts of it
  };
  struct OpenRange {
    int64_t last = 0;
    std::string origin;
  };
  struct EpochRanges {
    std::map<int64_t, int64_t> done;  // merged spans: first -> last
    // Ranges of the copies in copies_, by first offset.
    std::multimap<int64_t, OpenRange> open;
    int64_t max_open_length = 0;
  };

  // OK, or a FencedError naming the earlier session that holds a range of `session`.
  absl::Status FirstPendingWins(const SessionEntry& session) const;
  void OnFence(const TopicPartition& tp);
  void OnPending(int64_t offset, const SessionEntry& session);
  void OnDone(const SessionEntry& session);
  void OnAborted(const std::string& upload_id);
  // Whether every range of `batch` is under its partition's current epoch.
  bool Current(const JournalBatch& batch) const;
  Copy& CopyOf(const JournalBatch& batch);
  void EraseCopy(const std::string& origin);
  void AddDone(const JournalRange& range);
  // Calls fn(origin, copy) for each copy in copies_ with a range overlapping `range`.
  template <typename Fn>
  void ForEachOpen(const TopicPartition& tp, int64_t epoch, int64_t first, int64_t last,
                   Fn fn) const;
  const EpochRanges* RangesOf(const TopicPartition& tp, int64_t epoch) const;

  FenceBook fences_;
  std::map<TopicPartition, std::map<int64_t, EpochRanges>> ranges_;  // by epoch
  std::map<std::string, Copy> copies_;                               // by origin
  std::map<std::string, SessionEntry> pending_;                      // valid, by upload id
};

// A replay of the journal from its beginning: the fences, and every session not pruned with
// whether its PENDING was valid where it stood.
class JournalReplay {
 public:
  struct Session {
    SessionEntry entry;   // the latest record of the session
    bool valid = false;   // its PENDING was valid (fencing, first wins); DONE implies it was
    int64_t offset = -1;  // of the latest record
  };

  // Applies the record at `offset`; `value` is null for a tombstone. Records of another kind
  // are skipped. Returns InvalidArgument for a value that does not decode (the caller logs it
  // and goes on).
  absl::Status Apply(int64_t offset, const std::string& key, const std::string* value);

  const FenceBook& fences() const { return index_.fences(); }
  const JournalIndex& index() const { return index_; }
  const std::map<std::string, Session>& sessions() const { return sessions_; }

 private:
  JournalIndex index_;
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
