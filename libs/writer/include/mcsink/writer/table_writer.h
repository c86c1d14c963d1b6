// TableWriter: writes the RowBatches of one connector into one MaxCompute table through Tunnel
// batch upload, and acknowledges a batch only once every row of it is in a committed session.
//
// Per partition value `pt` it keeps one open upload session. Row groups are appended, already
// encoded, to the session's current block; a block is cut (record stream + trailer computed from
// the row CRCs, nothing decoded) when it reaches `block_bytes` and uploaded; a session is sealed
// and committed when it reaches `commit_bytes`, `commit_interval` after its first row, at the
// block cap, under memory pressure, on Flush/Drain, or, after a batch with `flush_hint` (upstream
// is held back by its own bound), as soon as the partition's previous session has committed. The
// table's MaxCompute limits (commits, session creations and block writes per period) are token
// buckets. Failed Tunnel calls are retried with exponential backoff and jitter when IsRetryable;
// a permanent or exhausted failure fails the session: its batches are never acknowledged and
// `on_failure` says which they are.
// A session the server has lost (restart) or expired before its commit is not a failure of the
// data: its blocks are uploaded again into a new session (at most max_attempts sessions).
//
// Threads: `worker_threads` workers run all Tunnel calls; one partition uses at most
// `max_in_flight_per_partition` of them, so a slow partition does not stall the others.
//
//   TableWriter writer(options, backend, {.on_ack = ..., .on_failure = ...});
//   writer.Add(std::move(batch), absl::InfiniteFuture());  // waits while over max_buffered_bytes
//   ...
//   writer.Drain(absl::Now() + absl::Seconds(30));         // SIGTERM: commit and acknowledge all
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mcsink/maxcompute/record_encoder.h"
#include "mcsink/v1/pipeline.pb.h"
#include "mcsink/writer/clock.h"
#include "mcsink/writer/commit_journal.h"
#include "mcsink/writer/token_bucket.h"
#include "mcsink/writer/tunnel_backend.h"
#include "mcsink/writer/writer_metrics.h"

namespace mcsink::writer {

struct TableWriterOptions {
  std::string table;
  // The partition column; a RowGroup's `pt` value v becomes the spec "<partition_column>=v".
  // Empty: the table is not partitioned and every group must have an empty `pt`.
  std::string partition_column = "pt";

  // A block is cut once it holds this many encoded bytes (it may exceed it by one row group).
  // pyodps buffers 20 MiB, the Java SDK 64 MiB; MaxCompute prefers large blocks (fewer files).
  int64_t block_bytes = int64_t{16} << 20;
  // A session is committed once it holds this many bytes ...
  int64_t commit_bytes = int64_t{128} << 20;
  // ... or this long after its first row was added.
  absl::Duration commit_interval = absl::Seconds(30);
  // Block ids per session (MaxCompute allows 0..19999).
  int64_t max_blocks_per_session = 20000;

  // Bytes accepted and not yet committed (or failed). Add waits while over it; under that
  // pressure the open sessions are committed early. One batch larger than this is admitted alone.
  int64_t max_buffered_bytes = int64_t{256} << 20;

  // Per-table MaxCompute limits (maxcompute-protocol.md §6), as token buckets.
  int64_t commits_per_period = 75;
  absl::Duration commit_period = absl::Seconds(15);
  int64_t sessions_per_period = 500;
  absl::Duration session_period = absl::Minutes(5);
  int64_t blocks_per_period = 500;
  absl::Duration block_period = absl::Minutes(5);

  // Retries of one Tunnel call: attempts in all (first try included), and the backoff before
  // attempt n+1: min(initial * multiplier^(n-1), max), of which a random half is jitter.
  int max_attempts = 8;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  double backoff_multiplier = 2.0;
  absl::Duration max_backoff = absl::Seconds(30);

  int worker_threads = 4;
  int max_in_flight_per_partition = 2;
  // A partition with nothing to do is forgotten after this long (so hourly values do not pile
  // up); writing to it again repeats EnsurePartition, which is idempotent.
  absl::Duration idle_partition_ttl = absl::Minutes(10);

  // Checks every field; the message names each bad one.
  absl::Status Validate() const;
};

// A permanent (non-retryable or retries exhausted) failure of one Tunnel call. The batches listed
// will never be acknowledged by this writer; the service applies the connector's failure policy.
struct WriteFailure {
  absl::Status status;  // says which call failed, for which partition and session, and why
  std::string partition;
  std::vector<uint64_t> batch_ids;
  std::vector<mcsink::v1::OffsetRange> ranges;  // of those batches
};

struct TableWriterCallbacks {
  // A batch is durable: every row group of it is in a committed session.
  std::function<void(mcsink::v1::Ack ack)> on_ack;
  std::function<void(const WriteFailure& failure)> on_failure;
};

// Optional collaborators; null members get defaults (real clock, no-op journal, no metrics).
struct TableWriterDeps {
  Clock* clock = nullptr;
  CommitJournal* journal = nullptr;
  WriterMetrics* metrics = nullptr;
  uint64_t random_seed = 0;  // jitter; 0 = from std::random_device
};

class TableWriter {
 public:
  // Validates `options` first: InvalidArgument naming every bad field.
  static absl::StatusOr<std::unique_ptr<TableWriter>> Create(TableWriterOptions options,
                                                             TunnelBackend* backend,
                                                             TableWriterCallbacks callbacks,
                                                             TableWriterDeps deps = {});
  // `options` must be valid (Validate); `backend` and the deps must outlive the writer.
  // Callbacks run on writer threads, one at a time (never concurrently), outside the writer's
  // lock; they must not call Drain or destroy the writer.
  TableWriter(TableWriterOptions options, TunnelBackend* backend, TableWriterCallbacks callbacks,
              TableWriterDeps deps = {});
  // Stops the workers without committing what is buffered (call Drain first for that); batches
  // not acknowledged by then never will be. Waits for Tunnel calls in flight (bounded by the
  // backend's own timeouts).
  ~TableWriter();

  TableWriter(const TableWriter&) = delete;
  TableWriter& operator=(const TableWriter&) = delete;

  // Takes the batch's row groups. Waits (until the real-time `deadline`) while the buffered
  // bytes are over max_buffered_bytes. Errors: DeadlineExceeded (still full; the batch was not
  // taken, try again), FailedPrecondition after Drain began, InvalidArgument for a malformed
  // batch (row_crcs not matching row_count, a `pt` on an unpartitioned table, a group with rows
  // but no bytes). A batch with no rows is acknowledged at once.
  absl::Status Add(mcsink::v1::RowBatch batch, absl::Time deadline = absl::InfiniteFuture());

  // Seals every open session now, so everything added so far is committed without waiting for
  // the interval or size triggers. Returns at once.
  void Flush();

  // Stops accepting batches, commits everything buffered and delivers every acknowledgement or
  // failure. OK when nothing is left; DeadlineExceeded (with what is left) at the real-time
  // `deadline`.
  absl::Status Drain(absl::Time deadline);

  // Bytes accepted and not yet committed or failed.
  int64_t buffered_bytes() const;

 private:
  struct Batch;
  struct Block;
  struct Session;
  struct Partition;
  struct Action;
  struct Outcome;

  void WorkerLoop();
  // Finds the next Tunnel call to make and marks it in flight; nullopt when none is due, with
  // *wake_at set to when one may be.
  std::optional<Action> NextAction(absl::Time now, absl::Time* wake_at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<Action> NextActionFor(Partition& pt, absl::Time now, absl::Time* wake_at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Outcome Execute(const Action& action);
  void Apply(const Action& action, Outcome outcome) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Returns whether the workers have something new to look at.
  bool Append(Partition& pt, mcsink::v1::RowGroup& group, const std::shared_ptr<Batch>& batch,
              absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CutBlock(Session& session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Seal(Partition& pt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ShouldSeal(const Session& session, absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Committed(Partition& pt, Session& session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailSession(Partition& pt, Session& session, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The server lost `session` (404 NoSuchUpload after a restart) or it expired, before its
  // commit: its rows go into a new session. The blocks uploaded so far were kept (their bytes
  // stay counted until commit), so they are queued to be uploaded again; the session is then
  // created anew and journaled with its new upload id. Fails the session instead once it has
  // used max_attempts sessions. `call` names the call that found out, for messages.
  void Reopen(Partition& pt, Session& session, const absl::Status& status, const std::string& call)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveSession(Partition& pt, Session& session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Backoff before the attempt after `attempts` failed ones, or nullopt when retries are spent.
  std::optional<absl::Duration> Backoff(const absl::Status& status, int attempts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Changed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { ++generation_; }
  void UpdateGauges() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Delivers acknowledgements and failures collected under mu_, outside it, one caller at a time.
  // Called with mu_ held; releases it while the callbacks run.
  void DeliverPending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TableWriterOptions options_;
  TunnelBackend* const backend_;
  const TableWriterCallbacks callbacks_;
  Clock* const clock_;
  CommitJournal* const journal_;
  WriterMetrics* const metrics_;
  NoopCommitJournal noop_journal_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Partition>> partitions_ ABSL_GUARDED_BY(mu_);
  TokenBucket commit_bucket_ ABSL_GUARDED_BY(mu_);
  TokenBucket session_bucket_ ABSL_GUARDED_BY(mu_);
  TokenBucket block_bucket_ ABSL_GUARDED_BY(mu_);
  std::minstd_rand random_ ABSL_GUARDED_BY(mu_);
  int64_t buffered_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int adders_waiting_ ABSL_GUARDED_BY(mu_) = 0;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;   // Tunnel calls running
  int delivering_ ABSL_GUARDED_BY(mu_) = 0;  // Deliver calls not yet returned
  uint64_t next_session_serial_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped on every change workers care about
  int64_t session_count_ ABSL_GUARDED_BY(mu_) = 0;
  // Collected under mu_, handed to Deliver outside it.
  std::vector<mcsink::v1::Ack> pending_acks_ ABSL_GUARDED_BY(mu_);
  std::vector<WriteFailure> pending_failures_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex deliver_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<std::thread> workers_;
};

}  // namespace mcsink::writer
