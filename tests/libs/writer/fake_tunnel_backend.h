// An in-memory TunnelBackend for the writer's unit tests, used because a Tunnel server that can be
// made to fail the Nth call or to hold a call is not available (mclocal is not ready). It checks
// what a server checks: the partition exists before a session is created, every block is a valid
// record stream (decoded with the real decoder: CRCs, count, stream CRC), block ids are in range,
// and a commit names exactly the uploaded blocks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/maxcompute/types.h"
#include "mcsink/maxcompute/value.h"
#include "mcsink/writer/clock.h"
#include "mcsink/writer/tunnel_backend.h"
#include "mcsink/writer/writer_metrics.h"

namespace mcsink::writer::testing {

class FakeTunnelBackend : public TunnelBackend {
 public:
  // `clock` (optional) stamps session creations and commits, to check rate limits.
  explicit FakeTunnelBackend(maxcompute::TableSchema schema, Clock* clock = nullptr)
      : schema_(std::move(schema)), clock_(clock) {}

  absl::StatusOr<bool> EnsurePartition(const std::string& table,
                                       const std::string& partition) override;
  absl::StatusOr<std::string> CreateUploadSession(const std::string& table,
                                                  const std::string& partition) override;
  absl::Status UploadBlock(const SessionRef& session, int64_t block_id,
                           std::shared_ptr<const std::string> body) override;
  absl::Status Commit(const SessionRef& session, const std::vector<int64_t>& block_ids) override;
  absl::StatusOr<SessionState> GetSessionState(const SessionRef& session) override;

  // Faults. The `nth` call (1-based, counting every call of `op`) fails with `status`.
  void FailNth(TunnelOp op, int nth, absl::Status status);
  // The `nth` commit takes effect, then its answer is lost: it returns `status` anyway.
  void LoseNthCommitAnswer(int nth, absl::Status status);
  // Every call of `op` for `partition` ("" = any) fails with `status`.
  void FailAlways(TunnelOp op, const std::string& partition, absl::Status status);
  // Calls of `op` for `partition` ("" = any) wait until Release.
  void Hold(TunnelOp op, const std::string& partition);
  void Release();

  // What the server holds.
  struct CommittedSession {
    std::string partition;
    std::string upload_id;
    std::vector<int64_t> block_ids;
    absl::Time time;
  };
  std::vector<maxcompute::Row> CommittedRows(const std::string& partition);
  std::vector<CommittedSession> Commits();
  std::vector<absl::Time> SessionCreationTimes();
  // Bodies of every block uploaded successfully, in upload order.
  std::vector<std::shared_ptr<const std::string>> UploadedBodies();
  int Calls(TunnelOp op);
  int PartitionsCreated();

  // Waits (up to `timeout`, real time) until `pred` holds, evaluated with the state locked.
  template <typename Pred>
  bool WaitUntil(Pred pred, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(*this); };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
  }
  // Unlocked views for WaitUntil predicates.
  int calls_locked(TunnelOp op) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t commits_locked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return commits_.size(); }
  size_t uploads_locked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return bodies_.size(); }
  size_t committed_rows_locked(const std::string& partition) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

 private:
  struct Session {
    std::string partition;
    std::map<int64_t, std::vector<maxcompute::Row>> blocks;
    bool committed = false;
  };
  struct Fault {
    TunnelOp op;
    int nth = 0;  // 0 = always
    std::string partition;
    absl::Status status;
    bool after_effect = false;  // the call does its work, then fails
  };

  // Counts the call, waits while it is held, returns an injected fault if any.
  absl::Status Enter(TunnelOp op, const std::string& partition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The injected failure of a call that already did its work, if any.
  absl::Status LostAnswer(TunnelOp op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const maxcompute::TableSchema schema_;
  Clock* const clock_;
  absl::Mutex mu_;
  std::set<std::string> partitions_ ABSL_GUARDED_BY(mu_);
  int partitions_created_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<maxcompute::Row>> table_ ABSL_GUARDED_BY(mu_);
  std::vector<CommittedSession> commits_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> creations_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<const std::string>> bodies_ ABSL_GUARDED_BY(mu_);
  std::map<TunnelOp, int> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<Fault> faults_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<TunnelOp, std::string>> holds_ ABSL_GUARDED_BY(mu_);
  int next_upload_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mcsink::writer::testing
