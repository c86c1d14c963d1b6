#include "mcsink/writer/table_writer.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"

namespace mcsink::writer {

using mcsink::v1::Ack;
using mcsink::v1::OffsetRange;
using mcsink::v1::RowBatch;
using mcsink::v1::RowGroup;

absl::Status TableWriterOptions::Validate() const {
  std::vector<std::string> bad;
  auto check = [&bad](bool ok, std::string message) {
    if (!ok) bad.push_back(std::move(message));
  };
  check(!table.empty(), "table is empty");
  check(block_bytes > 0, absl::StrCat("block_bytes is ", block_bytes, ", must be > 0"));
  check(commit_bytes > 0, absl::StrCat("commit_bytes is ", commit_bytes, ", must be > 0"));
  check(
      commit_interval > absl::ZeroDuration(),
      absl::StrCat("commit_interval is ", absl::FormatDuration(commit_interval), ", must be > 0"));
  check(max_blocks_per_session >= 1 && max_blocks_per_session <= 20000,
        absl::StrCat("max_blocks_per_session is ", max_blocks_per_session,
                     ", must be in [1, 20000] (MaxCompute's block ids are 0..19999)"));
  check(max_buffered_bytes > 0,
        absl::StrCat("max_buffered_bytes is ", max_buffered_bytes, ", must be > 0"));
  check(commits_per_period >= 1 && commit_period > absl::ZeroDuration(),
        "commits_per_period must be >= 1 and commit_period > 0");
  check(sessions_per_period >= 1 && session_period > absl::ZeroDuration(),
        "sessions_per_period must be >= 1 and session_period > 0");
  check(blocks_per_period >= 1 && block_period > absl::ZeroDuration(),
        "blocks_per_period must be >= 1 and block_period > 0");
  check(max_attempts >= 1, absl::StrCat("max_attempts is ", max_attempts, ", must be >= 1"));
  check(initial_backoff > absl::ZeroDuration() && max_backoff >= initial_backoff,
        "initial_backoff must be > 0 and max_backoff >= initial_backoff");
  check(backoff_multiplier >= 1.0,
        absl::StrCat("backoff_multiplier is ", backoff_multiplier, ", must be >= 1"));
  check(worker_threads >= 1, absl::StrCat("worker_threads is ", worker_threads, ", must be >= 1"));
  check(max_in_flight_per_partition >= 1,
        absl::StrCat("max_in_flight_per_partition is ", max_in_flight_per_partition,
                     ", must be >= 1"));
  check(idle_partition_ttl > absl::ZeroDuration(), "idle_partition_ttl must be > 0");
  if (bad.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid table writer options: ", absl::StrJoin(bad, "; ")));
}

// A batch being written: acknowledged when its last row group's session commits.
struct TableWriter::Batch {
  uint64_t batch_id = 0;
  std::vector<OffsetRange> ranges;
  int total_groups = 0;  // with rows
  int remaining_groups = 0;
  absl::Time accepted_at;
  bool failed = false;
};

// A cut block: one complete record stream. Kept after its upload until the session commits, so
// that it can be uploaded again if the server loses the session; its bytes are counted in
// buffered_bytes_ until then anyway.
struct TableWriter::Block {
  int64_t id = 0;
  std::shared_ptr<const std::string> body;
  int64_t rows = 0;
  int attempts = 0;  // failed uploads so far
  absl::Time not_before = absl::InfinitePast();
};

struct TableWriter::Session {
  uint64_t serial = 0;  // names the session in messages before it has an upload id
  std::string upload_id;
  absl::Time opened_at;

  // The block being filled: concatenated records, and the trailer over their CRCs.
  std::string block;
  maxcompute::StreamTrailer trailer;
  int64_t block_rows = 0;
  int64_t next_block_id = 0;

  std::deque<Block> pending;
  int uploads_in_flight = 0;
  std::vector<int64_t> uploaded_block_ids;
  std::vector<Block> uploaded;  // the same blocks, for a new session if this one is lost
  int reopens = 0;              // new sessions opened because the server lost the previous one

  int64_t rows = 0;
  int64_t bytes = 0;  // encoded row bytes taken in (counted in buffered_bytes_)
  // Batches with row groups here, and how many groups each.
  std::vector<std::pair<std::shared_ptr<Batch>, int>> batches;

  bool sealed = false;  // takes no more rows; commits once its blocks are uploaded
  bool failed = false;  // a call failed permanently; removed once no call is in flight

  bool creating = false;
  int create_attempts = 0;
  absl::Time create_not_before = absl::InfinitePast();

  bool committing = false;
  int commit_attempts = 0;
  absl::Time commit_not_before = absl::InfinitePast();
  bool journaled = false;  // BeforeCommit done
  bool committed = false;  // the backend's commit done

  bool busy() const { return creating || committing || uploads_in_flight > 0; }
  std::string Name() const {
    return upload_id.empty() ? absl::StrCat("(local #", serial, ", not created)") : upload_id;
  }
};

struct TableWriter::Partition {
  std::string value;   // the RowGroup's pt
  std::string spec;    // "pt=<value>"
  bool ready = false;  // EnsurePartition succeeded
  bool ensuring = false;
  int ensure_attempts = 0;
  absl::Time ensure_not_before = absl::InfinitePast();
  int in_flight = 0;
  std::unique_ptr<Session> open;                // takes new rows
  std::deque<std::unique_ptr<Session>> sealed;  // oldest first
  absl::Time last_active;
  // Upstream is held back by its bound (a batch came with flush_hint): the open session is sealed
  // as soon as no older session of this partition is still committing. One session committing
  // at a time lets the next one grow meanwhile, so commit size follows commit latency.
  bool flush_requested = false;

  bool empty() const { return !open && sealed.empty() && in_flight == 0 && !ensuring; }
};

struct TableWriter::Action {
  TunnelOp op = TunnelOp::kEnsurePartition;
  Partition* pt = nullptr;
  Session* session = nullptr;  // null for kEnsurePartition
  SessionRef ref;
  Block block;             // kUploadBlock
  CommitRecord record;     // kCommit
  bool journaled = false;  // kCommit: steps already done by an earlier attempt
  bool committed = false;
};

struct TableWriter::Outcome {
  absl::Status status;
  bool partition_created = false;  // kEnsurePartition
  std::string upload_id;           // kCreateSession
  bool journaled = false;          // kCommit progress
  bool committed = false;
};

absl::StatusOr<std::unique_ptr<TableWriter>> TableWriter::Create(TableWriterOptions options,
                                                                 TunnelBackend* backend,
                                                                 TableWriterCallbacks callbacks,
                                                                 TableWriterDeps deps) {
  MCSINK_RETURN_IF_ERROR(options.Validate());
  return std::make_unique<TableWriter>(std::move(options), backend, std::move(callbacks), deps);
}

TableWriter::TableWriter(TableWriterOptions options, TunnelBackend* backend,
                         TableWriterCallbacks callbacks, TableWriterDeps deps)
    : options_(std::move(options)),
      backend_(backend),
      callbacks_(std::move(callbacks)),
      clock_(deps.clock != nullptr ? deps.clock : RealClock::Get()),
      journal_(deps.journal != nullptr ? deps.journal : &noop_journal_),
      metrics_(deps.metrics),
      commit_bucket_(options_.commits_per_period, options_.commit_period, clock_->Now()),
      session_bucket_(options_.sessions_per_period, options_.session_period, clock_->Now()),
      block_bucket_(options_.blocks_per_period, options_.block_period, clock_->Now()),
      random_(deps.random_seed != 0 ? static_cast<std::minstd_rand::result_type>(deps.random_seed)
                                    : std::random_device{}()) {
  workers_.reserve(static_cast<size_t>(options_.worker_threads));
  for (int i = 0; i < options_.worker_threads; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

TableWriter::~TableWriter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    Changed();
  }
  for (std::thread& t : workers_) t.join();
}

namespace {

// The server no longer has the upload session, so no retry of the call can succeed: it expired
// (MaxCompute: 24 h after creation) or the Tunnel frontend lost it (a restart). The Tunnel client
// reports the former as HTTP 400 StatusConflict "... expired ..." and the latter as HTTP 404
// NoSuchUpload; both keep the server's code and message in the status message.
bool SessionGone(const absl::Status& status) {
  if (status.ok() || IsRetryable(status)) return false;
  const std::string message = absl::AsciiStrToLower(status.message());
  if (absl::IsNotFound(status)) return absl::StrContains(message, "nosuchupload");
  return (absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status)) &&
         absl::StrContains(message, "expired");
}

// Characters that would break the partition spec "k=v,k2=v2" the Tunnel parameters carry.
bool ValidPartitionValue(const std::string& value) {
  return value.find_first_of(",='\"") == std::string::npos;
}

// Room a block buffer keeps for its stream trailer (META_COUNT and META_CHECKSUM: at most 25
// bytes), so appending it at the cut never reallocates.
constexpr size_t kTrailerRoom = 32;

}  // namespace

absl::Status TableWriter::Add(RowBatch batch, absl::Time deadline) {
  int64_t bytes = 0;
  int64_t rows = 0;
  int groups = 0;
  for (const RowGroup& group : batch.groups()) {
    const std::string where =
        absl::StrCat("row group for pt '", group.pt(), "' of batch ", batch.batch_id());
    if (static_cast<uint64_t>(group.row_crcs_size()) != group.row_count()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " has row_count ", group.row_count(), " but ", group.row_crcs_size(),
                       " row CRCs; transform must send one CRC per row"));
    }
    if ((group.row_count() > 0) == group.encoded_rows().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, " has ", group.row_count(),
                                                     " rows but ", group.encoded_rows().size(),
                                                     " encoded bytes"));
    }
    if (options_.partition_column.empty() && !group.pt().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": table ", options_.table,
                                                     " is not partitioned, so pt must be empty"));
    }
    if (!options_.partition_column.empty() && group.row_count() > 0 &&
        (group.pt().empty() || !ValidPartitionValue(group.pt()))) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": table ", options_.table, " is partitioned by ", options_.partition_column,
          ", so pt must be a non-empty value without , = ' or \""));
    }
    if (group.row_count() == 0) continue;
    bytes += static_cast<int64_t>(group.encoded_rows().size());
    rows += static_cast<int64_t>(group.row_count());
    ++groups;
  }

  absl::MutexLock lock(&mu_);
  auto room = [this, bytes]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return draining_ || stopping_ || buffered_bytes_ == 0 ||
           buffered_bytes_ + bytes <= options_.max_buffered_bytes;
  };
  if (!room()) {
    // Workers commit open sessions early while someone waits for room.
    ++adders_waiting_;
    Changed();
    const bool ok = mu_.AwaitWithDeadline(absl::Condition(&room), deadline);
    --adders_waiting_;
    if (!ok) {
      return absl::DeadlineExceededError(absl::StrCat(
          "writer for table ", options_.table, " holds ", buffered_bytes_,
          " uncommitted bytes (max_buffered_bytes ", options_.max_buffered_bytes, "); batch ",
          batch.batch_id(), " of ", bytes, " bytes was not taken, send it again later"));
    }
  }
  if (draining_ || stopping_) {
    return absl::FailedPreconditionError(absl::StrCat("writer for table ", options_.table,
                                                      " is draining; batch ", batch.batch_id(),
                                                      " was not taken"));
  }

  const absl::Time now = clock_->Now();
  auto state = std::make_shared<Batch>();
  state->batch_id = batch.batch_id();
  state->ranges.assign(std::make_move_iterator(batch.mutable_ranges()->begin()),
                       std::make_move_iterator(batch.mutable_ranges()->end()));
  state->total_groups = groups;
  state->remaining_groups = groups;
  state->accepted_at = now;
  if (metrics_ != nullptr) metrics_->OnBatchAccepted(rows, bytes);

  bool wake_workers = false;
  if (groups == 0) {
    Ack ack;
    ack.set_batch_id(state->batch_id);
    for (OffsetRange& r : state->ranges) *ack.add_ranges() = std::move(r);
    pending_acks_.push_back(std::move(ack));
    if (metrics_ != nullptr) metrics_->OnBatchAcknowledged(0);
  }
  for (RowGroup& group : *batch.mutable_groups()) {
    if (group.row_count() == 0) continue;
    std::unique_ptr<Partition>& slot = partitions_[group.pt()];
    if (slot == nullptr) {
      slot = std::make_unique<Partition>();
      slot->value = group.pt();
      if (!options_.partition_column.empty()) {
        slot->spec = absl::StrCat(options_.partition_column, "=", group.pt());
      }
    }
    slot->last_active = now;
    wake_workers |= Append(*slot, group, state, now);
  }
  if (batch.flush_hint()) {
    // Upstream waits for acknowledgements of what this writer holds, in any partition (other
    // streams' batches as well): waiting for commit_bytes or commit_interval would stall it.
    for (auto& [value, pt] : partitions_) {
      if (pt->open != nullptr && !pt->flush_requested) {
        pt->flush_requested = true;
        wake_workers = true;
      }
    }
  }
  UpdateGauges();
  // Rows that only grow an open block give the workers nothing to do: waking them on every
  // batch would cost more than the append.
  if (wake_workers) Changed();
  DeliverPending();
  return absl::OkStatus();
}

bool TableWriter::Append(Partition& pt, RowGroup& group, const std::shared_ptr<Batch>& batch,
                         absl::Time now) {
  bool news = false;
  if (pt.open == nullptr) {
    news = true;  // a new commit-interval timer, and maybe a partition to add
    pt.open = std::make_unique<Session>();
    pt.open->serial = ++next_session_serial_;
    pt.open->opened_at = now;
    ++session_count_;
  }
  Session& s = *pt.open;
  const auto bytes = static_cast<int64_t>(group.encoded_rows().size());
  // The records are already encoded with their CRCs: a block is their concatenation.
  if (s.block.empty()) {
    s.block = std::move(*group.mutable_encoded_rows());
  } else {
    const size_t needed = s.block.size() + group.encoded_rows().size();
    if (needed > s.block.capacity()) {
      // One allocation for the whole block, with room for the row group that crosses the cut
      // and for the trailer: growing by doubling copied each block about twice over (and the
      // trailer's append after a block filled to exactly its capacity doubled it once more).
      // Reserving costs no memory until written: the kernel backs a large allocation's pages
      // only as they are touched, so a block that is committed early stays small in RSS.
      const auto block_bytes = static_cast<size_t>(options_.block_bytes);
      s.block.reserve(std::max(needed, block_bytes + block_bytes / 8) + kTrailerRoom);
    }
    s.block.append(group.encoded_rows());
  }
  s.trailer.AddAll({group.row_crcs().data(), static_cast<size_t>(group.row_crcs().size())});
  const auto rows = static_cast<int64_t>(group.row_count());
  s.block_rows += rows;
  s.rows += rows;
  s.bytes += bytes;
  buffered_bytes_ += bytes;
  if (!s.batches.empty() && s.batches.back().first == batch) {
    ++s.batches.back().second;
  } else {
    s.batches.emplace_back(batch, 1);
  }
  if (static_cast<int64_t>(s.block.size()) >= options_.block_bytes) {
    CutBlock(s);
    if (s.next_block_id >= options_.max_blocks_per_session) Seal(pt);
    news = true;
  }
  return news || s.bytes >= options_.commit_bytes;
}

void TableWriter::CutBlock(Session& s) {
  if (s.block_rows == 0) return;
  s.trailer.AppendTo(&s.block);
  Block block;
  block.id = s.next_block_id++;
  block.body = std::make_shared<const std::string>(std::move(s.block));
  block.rows = s.block_rows;
  s.pending.push_back(std::move(block));
  s.block = std::string();
  s.trailer = maxcompute::StreamTrailer();
  s.block_rows = 0;
}

void TableWriter::Seal(Partition& pt) {
  if (pt.open == nullptr) return;
  CutBlock(*pt.open);
  pt.flush_requested = false;
  pt.open->sealed = true;
  pt.sealed.push_back(std::move(pt.open));
  Changed();
}

bool TableWriter::ShouldSeal(const Session& s, absl::Time now) const {
  return s.bytes >= options_.commit_bytes || now >= s.opened_at + options_.commit_interval ||
         s.next_block_id >= options_.max_blocks_per_session || draining_ || adders_waiting_ > 0;
}

void TableWriter::Flush() {
  absl::MutexLock lock(&mu_);
  for (auto& [value, pt] : partitions_) Seal(*pt);
}

absl::Status TableWriter::Drain(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  for (auto& [value, pt] : partitions_) Seal(*pt);
  Changed();
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Idle(); };
  if (mu_.AwaitWithDeadline(absl::Condition(&idle), deadline)) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat("drain of the writer for table ", options_.table,
                                                  " timed out with ", session_count_,
                                                  " upload sessions and ", buffered_bytes_,
                                                  " bytes not committed; their batches are not "
                                                  "acknowledged and will be sent again"));
}

bool TableWriter::Idle() const {
  return session_count_ == 0 && in_flight_ == 0 && delivering_ == 0 && pending_acks_.empty() &&
         pending_failures_.empty();
}

int64_t TableWriter::buffered_bytes() const {
  absl::MutexLock lock(&mu_);
  return buffered_bytes_;
}

void TableWriter::UpdateGauges() {
  if (metrics_ == nullptr) return;
  metrics_->SetBufferedBytes(buffered_bytes_);
  metrics_->SetOpenSessions(session_count_);
}

void TableWriter::WorkerLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Time wake_at = absl::InfiniteFuture();
    std::optional<Action> action = NextAction(clock_->Now(), &wake_at);
    if (action.has_value()) {
      mu_.Unlock();
      Outcome outcome = Execute(*action);
      mu_.Lock();
      Apply(*action, std::move(outcome));
      DeliverPending();
      continue;
    }
    const uint64_t seen = generation_;
    auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || generation_ != seen;
    };
    clock_->AwaitWithDeadline(&mu_, absl::Condition(&changed), wake_at);
  }
}

std::optional<TableWriter::Action> TableWriter::NextAction(absl::Time now, absl::Time* wake_at) {
  for (auto it = partitions_.begin(); it != partitions_.end();) {
    Partition& pt = *it->second;
    if (pt.empty()) {
      if (now >= pt.last_active + options_.idle_partition_ttl) {
        partitions_.erase(it++);
      } else {
        *wake_at = std::min(*wake_at, pt.last_active + options_.idle_partition_ttl);
        ++it;
      }
      continue;
    }
    std::optional<Action> action = NextActionFor(pt, now, wake_at);
    if (action.has_value()) {
      ++pt.in_flight;
      ++in_flight_;
      pt.last_active = now;
      action->pt = &pt;
      if (action->session != nullptr) {
        action->ref = SessionRef{options_.table, pt.spec, action->session->upload_id};
      }
      return action;
    }
    ++it;
  }
  return std::nullopt;
}

std::optional<TableWriter::Action> TableWriter::NextActionFor(Partition& pt, absl::Time now,
                                                              absl::Time* wake_at) {
  auto wake = [wake_at](absl::Time t) { *wake_at = std::min(*wake_at, t); };
  if (pt.open != nullptr) {
    if (ShouldSeal(*pt.open, now) || (pt.flush_requested && pt.sealed.empty())) {
      Seal(pt);
    } else {
      wake(pt.open->opened_at + options_.commit_interval);
    }
  }
  if (pt.in_flight >= options_.max_in_flight_per_partition) return std::nullopt;

  if (!pt.ready) {
    if (pt.ensuring) return std::nullopt;
    if (now < pt.ensure_not_before) {
      wake(pt.ensure_not_before);
      return std::nullopt;
    }
    pt.ensuring = true;
    Action action;
    action.op = TunnelOp::kEnsurePartition;
    return action;
  }

  auto consider = [&](Session& s) -> std::optional<Action> {
    if (s.failed) return std::nullopt;
    Action action;
    action.session = &s;
    if (s.upload_id.empty()) {
      // Created lazily, when there is a block to upload: a session that is never needed is
      // never created.
      if (s.creating || (!s.sealed && s.pending.empty())) return std::nullopt;
      if (now < s.create_not_before) {
        wake(s.create_not_before);
        return std::nullopt;
      }
      if (!session_bucket_.TryTake(now)) {
        wake(session_bucket_.NextAvailable(now));
        return std::nullopt;
      }
      s.creating = true;
      action.op = TunnelOp::kCreateSession;
      return action;
    }
    if (!s.pending.empty()) {
      Block& front = s.pending.front();
      if (now < front.not_before) {
        wake(front.not_before);
        return std::nullopt;
      }
      if (!block_bucket_.TryTake(now)) {
        wake(block_bucket_.NextAvailable(now));
        return std::nullopt;
      }
      action.op = TunnelOp::kUploadBlock;
      action.block = std::move(front);
      s.pending.pop_front();
      ++s.uploads_in_flight;
      return action;
    }
    if (!s.sealed || s.uploads_in_flight > 0 || s.creating || s.committing) return std::nullopt;
    if (now < s.commit_not_before) {
      wake(s.commit_not_before);
      return std::nullopt;
    }
    if (!commit_bucket_.TryTake(now)) {
      wake(commit_bucket_.NextAvailable(now));
      return std::nullopt;
    }
    s.committing = true;
    action.op = TunnelOp::kCommit;
    action.journaled = s.journaled;
    action.committed = s.committed;
    action.record.session = SessionRef{options_.table, pt.spec, s.upload_id};
    action.record.block_ids = s.uploaded_block_ids;
    std::sort(action.record.block_ids.begin(), action.record.block_ids.end());
    action.record.batches.reserve(s.batches.size());
    for (const auto& [batch, groups] : s.batches) {
      action.record.batches.push_back(
          CommitBatch{batch->batch_id, batch->ranges, groups, batch->total_groups});
    }
    return action;
  };
  for (std::unique_ptr<Session>& s : pt.sealed) {
    if (std::optional<Action> action = consider(*s)) return action;
  }
  if (pt.open != nullptr) return consider(*pt.open);
  return std::nullopt;
}

TableWriter::Outcome TableWriter::Execute(const Action& action) {
  Outcome outcome;
  // Request latency is real time whatever clock drives the timers.
  const absl::Time start = absl::Now();
  auto observe = [&](TunnelOp op, const absl::Status& status) {
    if (metrics_ != nullptr) {
      metrics_->OnTunnelRequest(op, absl::ToDoubleSeconds(absl::Now() - start), status.ok());
    }
  };
  switch (action.op) {
    case TunnelOp::kEnsurePartition: {
      absl::StatusOr<bool> created = backend_->EnsurePartition(options_.table, action.pt->spec);
      observe(action.op, created.status());
      outcome.status = created.status();
      outcome.partition_created = created.ok() && *created;
      break;
    }
    case TunnelOp::kCreateSession: {
      absl::StatusOr<std::string> id =
          backend_->CreateUploadSession(options_.table, action.pt->spec);
      observe(action.op, id.status());
      outcome.status = id.status();
      if (id.ok()) outcome.upload_id = *std::move(id);
      break;
    }
    case TunnelOp::kUploadBlock:
      outcome.status = backend_->UploadBlock(action.ref, action.block.id, action.block.body);
      observe(action.op, outcome.status);
      break;
    case TunnelOp::kCommit: {
      outcome.journaled = action.journaled;
      outcome.committed = action.committed;
      if (!outcome.journaled) {
        outcome.status = Annotate(journal_->BeforeCommit(action.record), "journal before commit");
        if (!outcome.status.ok()) break;
        outcome.journaled = true;
      }
      if (!outcome.committed) {
        outcome.status = backend_->Commit(action.record.session, action.record.block_ids);
        observe(action.op, outcome.status);
        if (!outcome.status.ok()) break;
        outcome.committed = true;
      }
      outcome.status = Annotate(journal_->AfterCommit(action.record), "journal after commit");
      break;
    }
  }
  return outcome;
}

std::optional<absl::Duration> TableWriter::Backoff(const absl::Status& status, int attempts) {
  if (!IsRetryable(status) || attempts >= options_.max_attempts) return std::nullopt;
  const double factor = std::pow(options_.backoff_multiplier, attempts - 1);
  absl::Duration delay = std::min(options_.initial_backoff * factor, options_.max_backoff);
  // Half fixed, half random, so that writers retrying after a shared outage spread out.
  std::uniform_real_distribution<double> jitter(0.0, 0.5);
  delay = delay * 0.5 + delay * jitter(random_);
  // Said at every retry: a writer that keeps retrying looks stalled from outside otherwise.
  MCSINK_LOG(WARNING) << "table " << options_.table << ": attempt " << attempts << " of "
                      << options_.max_attempts << " failed, retrying in "
                      << absl::FormatDuration(delay) << ": " << status;
  return delay;
}

void TableWriter::Apply(const Action& action, Outcome outcome) {
  Partition& pt = *action.pt;
  const absl::Time now = clock_->Now();
  --pt.in_flight;
  --in_flight_;
  pt.last_active = now;
  Changed();
  const absl::Status& status = outcome.status;

  // "what failed" for messages: the call, the partition and the session.
  auto describe = [&](const std::string& call, int attempts) {
    return absl::StrCat(call, " for partition '", pt.spec, "' of table ", options_.table,
                        IsRetryable(status) ? absl::StrCat(" failed after ", attempts, " attempts")
                                            : std::string(" failed (not retryable)"));
  };

  if (action.op == TunnelOp::kEnsurePartition) {
    pt.ensuring = false;
    if (status.ok()) {
      pt.ready = true;
      pt.ensure_attempts = 0;
      if (outcome.partition_created && metrics_ != nullptr) metrics_->OnPartitionCreated();
      return;
    }
    ++pt.ensure_attempts;
    if (std::optional<absl::Duration> delay = Backoff(status, pt.ensure_attempts)) {
      pt.ensure_not_before = now + *delay;
      if (metrics_ != nullptr) metrics_->OnRetry(action.op);
      MCSINK_LOG(WARNING) << "adding partition " << pt.spec << " to " << options_.table
                          << " failed, retrying: " << status;
      return;
    }
    const absl::Status failure =
        Annotate(status, describe("adding the partition", pt.ensure_attempts));
    pt.ensure_attempts = 0;
    pt.ensure_not_before = absl::InfinitePast();
    if (pt.open != nullptr) FailSession(pt, *pt.open, failure);
    std::vector<Session*> sessions;
    for (std::unique_ptr<Session>& s : pt.sealed) sessions.push_back(s.get());
    for (Session* s : sessions) FailSession(pt, *s, failure);
    UpdateGauges();
    return;
  }

  Session& s = *action.session;
  switch (action.op) {
    case TunnelOp::kEnsurePartition:
      break;
    case TunnelOp::kCreateSession:
      s.creating = false;
      if (status.ok()) {
        s.upload_id = std::move(outcome.upload_id);
        if (metrics_ != nullptr) metrics_->OnSessionCreated();
      } else if (!s.failed) {
        ++s.create_attempts;
        if (std::optional<absl::Duration> delay = Backoff(status, s.create_attempts)) {
          s.create_not_before = now + *delay;
          if (metrics_ != nullptr) metrics_->OnRetry(action.op);
        } else {
          FailSession(pt, s,
                      Annotate(status, describe("creating an upload session", s.create_attempts)));
        }
      }
      break;
    case TunnelOp::kUploadBlock:
      --s.uploads_in_flight;
      if (action.ref.upload_id != s.upload_id) {
        // Sent to a session the server has lost since: whatever the answer, the block belongs
        // in the new one.
        if (!s.failed) {
          Block block = action.block;
          block.attempts = 0;
          block.not_before = absl::InfinitePast();
          s.pending.push_front(std::move(block));
        }
      } else if (status.ok()) {
        s.uploaded_block_ids.push_back(action.block.id);
        s.uploaded.push_back(action.block);
        if (metrics_ != nullptr) {
          metrics_->OnBlockUploaded(action.block.rows,
                                    static_cast<int64_t>(action.block.body->size()));
        }
      } else if (!s.failed && SessionGone(status)) {
        Block block = action.block;
        block.attempts = 0;
        block.not_before = absl::InfinitePast();
        s.pending.push_front(std::move(block));
        Reopen(pt, s, status, absl::StrCat("uploading block ", action.block.id));
      } else if (!s.failed) {
        Block block = action.block;
        ++block.attempts;
        if (std::optional<absl::Duration> delay = Backoff(status, block.attempts)) {
          block.not_before = now + *delay;
          s.pending.push_front(std::move(block));
          if (metrics_ != nullptr) metrics_->OnRetry(action.op);
        } else {
          FailSession(pt, s,
                      Annotate(status, describe(absl::StrCat("uploading block ", block.id,
                                                             " of upload session ", s.Name()),
                                                block.attempts)));
        }
      }
      break;
    case TunnelOp::kCommit:
      s.committing = false;
      s.journaled = s.journaled || outcome.journaled;
      s.committed = s.committed || outcome.committed;
      if (status.ok()) {
        Committed(pt, s);
        UpdateGauges();
        return;
      }
      // Only the backend's commit can find the session gone: BeforeCommit's errors leave
      // `journaled` unset, AfterCommit's come with `committed` set. Even after an earlier commit
      // attempt whose answer was lost, gone means never committed: the service keeps a committed
      // session (CLOSED) for the session's lifetime, which the journal's recovery relies on too
      // (docs/exactly-once.md, step 3).
      if (!s.failed && outcome.journaled && !outcome.committed && SessionGone(status)) {
        Reopen(pt, s, status, "committing");
      } else if (!s.failed) {
        ++s.commit_attempts;
        if (std::optional<absl::Duration> delay = Backoff(status, s.commit_attempts)) {
          s.commit_not_before = now + *delay;
          if (metrics_ != nullptr) metrics_->OnRetry(action.op);
        } else {
          FailSession(
              pt, s,
              Annotate(status, describe(absl::StrCat("committing upload session ", s.Name()),
                                        s.commit_attempts)));
        }
      }
      break;
  }
  if (s.failed && !s.busy()) RemoveSession(pt, s);
  UpdateGauges();
}

void TableWriter::Committed(Partition& pt, Session& s) {
  const absl::Time now = clock_->Now();
  if (metrics_ != nullptr) {
    metrics_->OnCommitted(s.rows, s.bytes, static_cast<int64_t>(s.uploaded_block_ids.size()));
  }
  for (auto& [batch, groups] : s.batches) {
    batch->remaining_groups -= groups;
    if (batch->remaining_groups > 0 || batch->failed) continue;
    Ack ack;
    ack.set_batch_id(batch->batch_id);
    for (const OffsetRange& r : batch->ranges) *ack.add_ranges() = r;
    pending_acks_.push_back(std::move(ack));
    if (metrics_ != nullptr) {
      metrics_->OnBatchAcknowledged(absl::ToDoubleSeconds(now - batch->accepted_at));
    }
  }
  buffered_bytes_ -= s.bytes;
  s.bytes = 0;
  RemoveSession(pt, s);
}

void TableWriter::FailSession(Partition& pt, Session& s, const absl::Status& status) {
  if (s.failed) return;
  s.failed = true;
  if (IsFenced(status)) {
    // Expected after a rebalance: the partition's new owner reads these records again.
    MCSINK_LOG(WARNING) << status;
  } else {
    MCSINK_LOG(ERROR) << status;
  }
  WriteFailure failure{status, pt.spec, {}, {}};
  for (auto& [batch, groups] : s.batches) {
    batch->remaining_groups -= groups;
    if (batch->failed) continue;
    batch->failed = true;
    failure.batch_ids.push_back(batch->batch_id);
    failure.ranges.insert(failure.ranges.end(), batch->ranges.begin(), batch->ranges.end());
    if (metrics_ != nullptr) metrics_->OnBatchFailed();
  }
  s.batches.clear();
  pending_failures_.push_back(std::move(failure));
  buffered_bytes_ -= s.bytes;
  s.bytes = 0;
  s.pending.clear();
  s.uploaded.clear();
  s.block = std::string();
  if (pt.open.get() == &s) {
    s.sealed = true;
    pt.sealed.push_back(std::move(pt.open));
  }
  if (!s.busy()) RemoveSession(pt, s);
  Changed();
}

void TableWriter::Reopen(Partition& pt, Session& s, const absl::Status& status,
                         const std::string& call) {
  ++s.reopens;
  if (s.reopens >= options_.max_attempts) {
    FailSession(
        pt, s,
        Annotate(status, absl::StrCat("upload session ", s.Name(), " for partition '", pt.spec,
                                      "' of table ", options_.table, " is gone (found while ", call,
                                      "): the server lost or expired ", s.reopens,
                                      " sessions for these rows (max_attempts ",
                                      options_.max_attempts, ")")));
    return;
  }
  MCSINK_LOG(WARNING) << "upload session " << s.Name() << " for partition '" << pt.spec
                      << "' of table " << options_.table << " is gone (found while " << call
                      << "): the server lost or expired it before its commit; uploading its "
                      << s.uploaded.size() + s.pending.size()
                      << " block(s) again into a new session: " << status;
  if (metrics_ != nullptr) metrics_->OnSessionReopened();
  s.upload_id.clear();
  for (auto it = s.uploaded.rbegin(); it != s.uploaded.rend(); ++it) {
    Block block = std::move(*it);
    block.attempts = 0;
    block.not_before = absl::InfinitePast();
    s.pending.push_front(std::move(block));
  }
  s.uploaded.clear();
  s.uploaded_block_ids.clear();
  s.create_attempts = 0;
  s.create_not_before = absl::InfinitePast();
  s.commit_attempts = 0;
  s.commit_not_before = absl::InfinitePast();
  // A PENDING journaled for the lost session names its upload id; the new session is journaled
  // afresh before its own commit, and recovery resolves the old PENDING as gone (aborted).
  s.journaled = false;
  Changed();
}

void TableWriter::RemoveSession(Partition& pt, Session& s) {
  auto it = std::find_if(pt.sealed.begin(), pt.sealed.end(),
                         [&s](const std::unique_ptr<Session>& p) { return p.get() == &s; });
  if (it == pt.sealed.end()) return;
  pt.sealed.erase(it);
  --session_count_;
  Changed();
}

void TableWriter::DeliverPending() {
  if (pending_acks_.empty() && pending_failures_.empty()) return;
  std::vector<Ack> acks;
  std::vector<WriteFailure> failures;
  acks.swap(pending_acks_);
  failures.swap(pending_failures_);
  ++delivering_;
  mu_.Unlock();
  {
    // One delivery at a time, so a service can write acknowledgements to one stream.
    absl::MutexLock lock(&deliver_mu_);
    for (WriteFailure& f : failures) {
      if (callbacks_.on_failure) callbacks_.on_failure(f);
    }
    for (Ack& ack : acks) {
      if (callbacks_.on_ack) callbacks_.on_ack(std::move(ack));
    }
  }
  mu_.Lock();
  --delivering_;
  Changed();
}

}  // namespace mcsink::writer
