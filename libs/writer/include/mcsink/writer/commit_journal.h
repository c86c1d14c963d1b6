// Hook for exactly-once delivery (architecture.md "Delivery", step 4): before committing an upload
// session the writer records which offset ranges it holds and its upload id; after the commit,
// that they are done. The default journal does nothing (at-least-once).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mcsink/v1/pipeline.pb.h"
#include "mcsink/writer/tunnel_backend.h"

namespace mcsink::writer {

// A batch with rows in a session. A batch whose rows span several partitions (or were cut
// across sessions) appears in each of their sessions; it is durable once all of them are done,
// which is why the record says how many of the batch's row groups each session holds.
struct CommitBatch {
  uint64_t batch_id = 0;
  std::vector<mcsink::v1::OffsetRange> ranges;
  int groups = 0;        // row groups of the batch in this session
  int total_groups = 0;  // row groups of the batch with rows, in all sessions
};

struct CommitRecord {
  SessionRef session;
  std::vector<int64_t> block_ids;  // sorted
  std::vector<CommitBatch> batches;
};

// Called from the writer's worker threads, for different sessions at once: implementations must
// be thread-safe.
class CommitJournal {
 public:
  virtual ~CommitJournal() = default;
  // Called before the session's commit request. An error stops the commit; it is retried when
  // IsRetryable(status), else the session's batches fail.
  virtual absl::Status BeforeCommit(const CommitRecord& record) = 0;
  // Called once the commit succeeded, before the batches are acknowledged. Errors are handled as
  // for BeforeCommit (the commit itself is not repeated).
  virtual absl::Status AfterCommit(const CommitRecord& record) = 0;
  // For a batch that may have been written before (RowBatch.redelivery): the parts of `ranges`
  // that are not in the table, each with its range's epoch, once every pending session holding
  // some of them was finished. Empty: all of it is written. Called from the service's stream
  // threads, before the batch is added. This default knows of nothing written.
  virtual absl::StatusOr<std::vector<mcsink::v1::OffsetRange>> Unwritten(
      const std::vector<mcsink::v1::OffsetRange>& ranges) {
    return ranges;
  }
};

// A journal's refusal to let a session commit because a newer ingest owner has claimed one of
// its partitions (docs/exactly-once.md, fencing). Not a fault of the data: the new owner reads
// those records again, so upstream must neither dead-letter the batches nor stop their
// partitions. FailedPrecondition (not retried) with a payload IsFenced recognizes after any
// Annotate.
absl::Status FencedError(const std::string& message);
bool IsFenced(const absl::Status& status);

class NoopCommitJournal final : public CommitJournal {
 public:
  absl::Status BeforeCommit(const CommitRecord&) override { return absl::OkStatus(); }
  absl::Status AfterCommit(const CommitRecord&) override { return absl::OkStatus(); }
};

}  // namespace mcsink::writer
