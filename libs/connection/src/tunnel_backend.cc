#include "mcsink/connection/tunnel_backend.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "mcsink/common/status.h"

namespace mcsink::connection {

std::string SqlPartitionSpec(const std::string& spec) {
  std::vector<std::string> parts;
  for (absl::string_view kv : absl::StrSplit(spec, ',')) {
    const std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    parts.push_back(
        absl::StrCat(p.first, "='", absl::StrReplaceAll(p.second, {{"'", "\\'"}}), "'"));
  }
  return absl::StrJoin(parts, ",");
}

MaxComputeTunnelBackend::MaxComputeTunnelBackend(maxcompute_client::RestClient* rest,
                                                 maxcompute_client::TunnelClient* tunnel,
                                                 maxcompute::Compression compression)
    : rest_(rest), tunnel_(tunnel), compression_(compression) {}

absl::StatusOr<bool> MaxComputeTunnelBackend::EnsurePartition(const std::string& table,
                                                              const std::string& partition) {
  // Listing first tells whether this call creates it (for the partitions-created metric) and
  // saves a SQL instance when it exists.
  MCSINK_ASSIGN_OR_RETURN(const auto existing, rest_->ListPartitions(table, partition));
  for (const auto& p : existing) {
    if (p.Spec() == partition) return false;
  }
  maxcompute_client::SqlTask task;
  task.query = absl::StrCat("ALTER TABLE ", table, " ADD IF NOT EXISTS PARTITION (",
                            SqlPartitionSpec(partition), ");");
  MCSINK_RETURN_IF_ERROR(rest_->RunSql(task).status());
  return true;
}

absl::StatusOr<std::string> MaxComputeTunnelBackend::CreateUploadSession(
    const std::string& table, const std::string& partition) {
  MCSINK_ASSIGN_OR_RETURN(const auto session, tunnel_->CreateUploadSession({table, partition, ""}));
  return session.upload_id;
}

absl::Status MaxComputeTunnelBackend::UploadBlock(const writer::SessionRef& session,
                                                  int64_t block_id,
                                                  std::shared_ptr<const std::string> body) {
  const maxcompute_client::UploadTarget target{session.table, session.partition, ""};
  if (compression_ == maxcompute::Compression::kNone) {
    return tunnel_->UploadBlock(target, session.upload_id, block_id, std::move(body));
  }
  MCSINK_ASSIGN_OR_RETURN(std::string compressed, maxcompute::Compress(compression_, *body));
  return tunnel_->UploadBlock(target, session.upload_id, block_id,
                              std::make_shared<const std::string>(std::move(compressed)),
                              maxcompute::ContentEncodingOf(compression_));
}

absl::Status MaxComputeTunnelBackend::Commit(const writer::SessionRef& session,
                                             const std::vector<int64_t>& block_ids) {
  return tunnel_->CommitUpload({session.table, session.partition, ""}, session.upload_id, block_ids)
      .status();
}

absl::StatusOr<writer::SessionState> MaxComputeTunnelBackend::GetSessionState(
    const writer::SessionRef& session) {
  MCSINK_ASSIGN_OR_RETURN(
      const auto info,
      tunnel_->GetUploadSession({session.table, session.partition, ""}, session.upload_id));
  return writer::SessionState{info.status, info.uploaded_block_ids};
}

}  // namespace mcsink::connection
