// Hook for exactly-once delivery (architecture.md "Delivery", step 4): before committing an upload
// session the writer records which offset ranges it holds and its upload id; after the commit,
// that they are done. The default journal does nothing (at-least-once).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "mcsink/v1/pipeline.pb.h"
#include "mcsink/writer/tunnel_backend.h"

namespace mcsink::writer {

struct CommitRecord {
  SessionRef session;
  std::vector<int64_t> block_ids;
  // The ranges of every batch with rows in this session. A batch whose rows span several
  // partitions appears in each of their sessions; it is durable once all of them are done.
  std::vector<mcsink::v1::OffsetRange> ranges;
  std::vector<uint64_t> batch_ids;
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
};

class NoopCommitJournal final : public CommitJournal {
 public:
  absl::Status BeforeCommit(const CommitRecord&) override { return absl::OkStatus(); }
  absl::Status AfterCommit(const CommitRecord&) override { return absl::OkStatus(); }
};

}  // namespace mcsink::writer
