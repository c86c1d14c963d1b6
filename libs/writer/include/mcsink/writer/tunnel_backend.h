// The writer's narrow view of MaxCompute: the Tunnel batch-upload calls it makes
// (maxcompute-protocol.md §3.3-3.5) plus adding a partition (§2.2). The HTTP client in
// libs/maxcompute_client is adapted to it; tests substitute an in-memory backend.
//
// Every call is made for one table and one complete partition spec ("pt=11-17-2020 15"), unquoted
// as the Tunnel parameters want it. Implementations must be thread-safe: the writer calls them
// from several threads at once, for different partitions and for different blocks of a session.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mcsink::writer {

// One upload session: where it writes and the server's id for it.
struct SessionRef {
  std::string table;
  std::string
      partition;  // complete spec, e.g. "pt=11-17-2020 15"; empty for an unpartitioned table
  std::string upload_id;
};

// What the server says about a session (§3.3 `Status`, upper-cased; `UploadedBlockList`).
struct SessionState {
  std::string status;  // NORMAL, COMMITTING, CLOSED, EXPIRED, CANCELED, CRITICAL, ...
  std::vector<int64_t> uploaded_block_ids;
  bool committed() const { return status == "CLOSED"; }
};

class TunnelBackend {
 public:
  virtual ~TunnelBackend() = default;

  // Makes sure the partition exists (ALTER TABLE ... ADD IF NOT EXISTS PARTITION). Returns true
  // when this call created it, false when it was already there.
  virtual absl::StatusOr<bool> EnsurePartition(const std::string& table,
                                               const std::string& partition) = 0;

  // Creates an upload session for the partition (`POST ...?uploads&partition=`); returns its
  // upload id.
  virtual absl::StatusOr<std::string> CreateUploadSession(const std::string& table,
                                                          const std::string& partition) = 0;

  // Uploads one block (`PUT ...?uploadid=&blockid=`). `body` is one complete, uncompressed record
  // stream including its trailer; it is shared, not copied, so a retry re-sends the same bytes.
  // Re-uploading a block id replaces that block, which makes the call safe to retry.
  virtual absl::Status UploadBlock(const SessionRef& session, int64_t block_id,
                                   std::shared_ptr<const std::string> body) = 0;

  // Commits the session (`POST ...?uploadid=`) after checking that the server holds exactly
  // `block_ids`. Committing a session that is already committed must succeed (the protocol makes
  // a repeated commit idempotent), so a commit whose answer was lost can be retried.
  virtual absl::Status Commit(const SessionRef& session, const std::vector<int64_t>& block_ids) = 0;

  // The session's status and blocks (`GET ...?uploadid=`), e.g. to resolve a commit whose outcome
  // is unknown after a restart.
  virtual absl::StatusOr<SessionState> GetSessionState(const SessionRef& session) = 0;
};

// The one retry rule of the writer: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (throttled)
// and ABORTED are transient; every other code is permanent (bad request, missing table, denied).
bool IsRetryable(const absl::Status& status);

}  // namespace mcsink::writer
