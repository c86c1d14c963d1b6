// The writer's TunnelBackend on the real MaxCompute clients: partitions through SQL
// (ALTER TABLE ... ADD IF NOT EXISTS PARTITION), sessions, deflate blocks and commits through
// the Tunnel.
#pragma once

#include <string>

#include "mcsink/maxcompute/compression.h"
#include "mcsink/maxcompute_client/rest_client.h"
#include "mcsink/maxcompute_client/tunnel_client.h"
#include "mcsink/writer/tunnel_backend.h"

namespace mcsink::connection {

class MaxComputeTunnelBackend final : public writer::TunnelBackend {
 public:
  // The clients must outlive the backend.
  MaxComputeTunnelBackend(maxcompute_client::RestClient* rest,
                          maxcompute_client::TunnelClient* tunnel,
                          maxcompute::Compression compression = maxcompute::Compression::kDeflate);

  absl::StatusOr<bool> EnsurePartition(const std::string& table,
                                       const std::string& partition) override;
  absl::StatusOr<std::string> CreateUploadSession(const std::string& table,
                                                  const std::string& partition) override;
  absl::Status UploadBlock(const writer::SessionRef& session, int64_t block_id,
                           std::shared_ptr<const std::string> body) override;
  absl::Status Commit(const writer::SessionRef& session,
                      const std::vector<int64_t>& block_ids) override;
  absl::StatusOr<writer::SessionState> GetSessionState(const writer::SessionRef& session) override;

 private:
  maxcompute_client::RestClient* const rest_;
  maxcompute_client::TunnelClient* const tunnel_;
  const maxcompute::Compression compression_;
};

// `pt=11-17-2020 15` as a SQL partition clause: `pt='11-17-2020 15'`.
std::string SqlPartitionSpec(const std::string& spec);

}  // namespace mcsink::connection
