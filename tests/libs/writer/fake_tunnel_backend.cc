#include "fake_tunnel_backend.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mcsink/common/status.h"
#include "mcsink/maxcompute/record_decoder.h"
#include "mcsink/maxcompute/wire_format.h"

namespace mcsink::writer::testing {

absl::Status FakeTunnelBackend::Enter(TunnelOp op, const std::string& partition) {
  const int n = ++calls_[op];
  auto released = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::none_of(holds_.begin(), holds_.end(), [&](const auto& h) {
      return h.first == op && (h.second.empty() || h.second == partition);
    });
  };
  mu_.Await(absl::Condition(&released));
  for (const Fault& f : faults_) {
    if (f.op != op || f.after_effect) continue;
    if (f.nth != 0 && f.nth != n) continue;
    if (!f.partition.empty() && f.partition != partition) continue;
    return f.status;
  }
  return absl::OkStatus();
}

absl::Status FakeTunnelBackend::LostAnswer(TunnelOp op) {
  for (const Fault& f : faults_) {
    if (f.op == op && f.after_effect && f.nth == calls_locked(op)) return f.status;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> FakeTunnelBackend::EnsurePartition(const std::string& table,
                                                        const std::string& partition) {
  absl::MutexLock lock(&mu_);
  absl::Status fault = Enter(TunnelOp::kEnsurePartition, partition);
  if (!fault.ok()) return fault;
  if (table.empty()) return absl::InvalidArgumentError("no table");
  if (!partitions_.insert(partition).second) return false;
  ++partitions_created_;
  return true;
}

absl::StatusOr<std::string> FakeTunnelBackend::CreateUploadSession(const std::string& table,
                                                                   const std::string& partition) {
  absl::MutexLock lock(&mu_);
  absl::Status fault = Enter(TunnelOp::kCreateSession, partition);
  if (!fault.ok()) return fault;
  if (!partitions_.contains(partition)) {
    return absl::NotFoundError(
        absl::StrCat("partition '", partition, "' of table ", table, " does not exist"));
  }
  std::string id = absl::StrCat("upload-", ++next_upload_id_);
  sessions_[id].partition = partition;
  creations_.push_back(clock_ != nullptr ? clock_->Now() : absl::Now());
  return id;
}

absl::Status FakeTunnelBackend::UploadBlock(const SessionRef& ref, int64_t block_id,
                                            std::shared_ptr<const std::string> body) {
  absl::MutexLock lock(&mu_);
  MCSINK_RETURN_IF_ERROR(Enter(TunnelOp::kUploadBlock, ref.partition));
  auto it = sessions_.find(ref.upload_id);
  if (it == sessions_.end() || it->second.partition != ref.partition) {
    return absl::NotFoundError(
        absl::StrCat("no upload session ", ref.upload_id, " for '", ref.partition, "'"));
  }
  if (it->second.committed) {
    return absl::FailedPreconditionError(
        absl::StrCat("upload session ", ref.upload_id, " is committed"));
  }
  if (block_id < 0 || block_id >= 20000) {
    return absl::InvalidArgumentError(absl::StrCat("block id ", block_id, " out of [0, 20000)"));
  }
  absl::StatusOr<std::vector<maxcompute::Row>> rows = maxcompute::DecodeRecordStream(
      schema_, *body, {.max_cell_bytes = maxcompute::wire::kMaxCellBytes});
  if (!rows.ok()) return rows.status();
  it->second.blocks[block_id] = *std::move(rows);
  bodies_.push_back(std::move(body));
  return absl::OkStatus();
}

absl::Status FakeTunnelBackend::Commit(const SessionRef& ref,
                                       const std::vector<int64_t>& block_ids) {
  absl::MutexLock lock(&mu_);
  MCSINK_RETURN_IF_ERROR(Enter(TunnelOp::kCommit, ref.partition));
  auto it = sessions_.find(ref.upload_id);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("no upload session ", ref.upload_id));
  }
  Session& s = it->second;
  if (s.committed) return absl::OkStatus();
  std::vector<int64_t> held;
  for (const auto& [id, rows] : s.blocks) held.push_back(id);
  std::vector<int64_t> expected = block_ids;
  std::sort(expected.begin(), expected.end());
  if (held != expected) {
    return absl::FailedPreconditionError(absl::StrCat("blocks not match: server holds [",
                                                      absl::StrJoin(held, ","), "], commit names [",
                                                      absl::StrJoin(expected, ","), "]"));
  }
  std::vector<maxcompute::Row>& table = table_[s.partition];
  for (auto& [id, rows] : s.blocks) {
    table.insert(table.end(), std::make_move_iterator(rows.begin()),
                 std::make_move_iterator(rows.end()));
  }
  s.blocks.clear();
  s.committed = true;
  commits_.push_back(
      {s.partition, ref.upload_id, expected, clock_ != nullptr ? clock_->Now() : absl::Now()});
  return LostAnswer(TunnelOp::kCommit);
}

absl::StatusOr<SessionState> FakeTunnelBackend::GetSessionState(const SessionRef& ref) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(ref.upload_id);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("no upload session ", ref.upload_id));
  }
  SessionState state;
  state.status = it->second.committed ? "CLOSED" : "NORMAL";
  for (const auto& [id, rows] : it->second.blocks) state.uploaded_block_ids.push_back(id);
  return state;
}

void FakeTunnelBackend::FailNth(TunnelOp op, int nth, absl::Status status) {
  absl::MutexLock lock(&mu_);
  faults_.push_back({op, nth, "", std::move(status)});
}

void FakeTunnelBackend::LoseNthCommitAnswer(int nth, absl::Status status) {
  absl::MutexLock lock(&mu_);
  faults_.push_back({TunnelOp::kCommit, nth, "", std::move(status), true});
}

void FakeTunnelBackend::FailAlways(TunnelOp op, const std::string& partition, absl::Status status) {
  absl::MutexLock lock(&mu_);
  faults_.push_back({op, 0, partition, std::move(status)});
}

void FakeTunnelBackend::Hold(TunnelOp op, const std::string& partition) {
  absl::MutexLock lock(&mu_);
  holds_.emplace_back(op, partition);
}

void FakeTunnelBackend::Release() {
  absl::MutexLock lock(&mu_);
  holds_.clear();
}

std::vector<maxcompute::Row> FakeTunnelBackend::CommittedRows(const std::string& partition) {
  absl::MutexLock lock(&mu_);
  auto it = table_.find(partition);
  return it == table_.end() ? std::vector<maxcompute::Row>{} : it->second;
}

std::vector<FakeTunnelBackend::CommittedSession> FakeTunnelBackend::Commits() {
  absl::MutexLock lock(&mu_);
  return commits_;
}

std::vector<absl::Time> FakeTunnelBackend::SessionCreationTimes() {
  absl::MutexLock lock(&mu_);
  return creations_;
}

std::vector<std::shared_ptr<const std::string>> FakeTunnelBackend::UploadedBodies() {
  absl::MutexLock lock(&mu_);
  return bodies_;
}

int FakeTunnelBackend::Calls(TunnelOp op) {
  absl::MutexLock lock(&mu_);
  return calls_locked(op);
}

int FakeTunnelBackend::calls_locked(TunnelOp op) const {
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

size_t FakeTunnelBackend::committed_rows_locked(const std::string& partition) const {
  auto it = table_.find(partition);
  return it == table_.end() ? 0 : it->second.size();
}

int FakeTunnelBackend::PartitionsCreated() {
  absl::MutexLock lock(&mu_);
  return partitions_created_;
}

}  // namespace mcsink::writer::testing
