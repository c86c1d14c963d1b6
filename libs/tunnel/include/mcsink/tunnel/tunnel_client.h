// The MaxCompute Tunnel for one project (maxcompute-protocol.md §3 and §5): batch upload
// sessions (create, reload, block PUT, commit with the block-list check, idempotent re-commit)
// and download sessions (row ranges, column lists). Blocks are complete record streams
// (libs/maxcompute), optionally deflate-compressed. Every request is signed per attempt and
// retried with backoff when the failure is retryable (libs/maxcompute_client HttpClient).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/maxcompute/compression.h"
#include "mcsink/maxcompute/types.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsink/maxcompute_client/http.h"

namespace mcsink::tunnel {

struct TunnelClientOptions {
  // The tunnel endpoint, scheme://host[:port] (no /api prefix), configured or discovered with
  // RestClient::GetTunnelEndpoint.
  std::string endpoint;
  std::string project;
  std::optional<std::string> region;  // set -> signature V4, else V2
  absl::Duration timeout = absl::Seconds(120);
  maxcompute_client::RetryPolicy retry;
  maxcompute::Compression compression = maxcompute::Compression::kDeflate;  // for block PUTs
};

// A session's state as the server reports it.
struct SessionInfo {
  std::string id;      // UploadID or DownloadID
  std::string status;  // upper-cased: NORMAL, CLOSED, EXPIRED, ...
  maxcompute::TableSchema schema;
  std::vector<int64_t> block_ids;  // uploads: blocks the server holds
  int64_t record_count = 0;        // downloads
};

class TunnelClient {
 public:
  static absl::StatusOr<std::unique_ptr<TunnelClient>> Create(
      TunnelClientOptions options,
      std::shared_ptr<maxcompute_client::CredentialsProvider> credentials);

  // `partition` is the unquoted spec, e.g. `pt=11-17-2020 15`; empty for an unpartitioned table.
  absl::StatusOr<SessionInfo> CreateUploadSession(std::string_view table,
                                                  std::string_view partition);
  absl::StatusOr<SessionInfo> GetUploadSession(std::string_view table, std::string_view partition,
                                               std::string_view upload_id);
  // PUTs one block: `stream` must be a complete record stream with its trailer. Re-sending a
  // block id replaces that block. Ids are 0..19999.
  absl::Status UploadBlock(std::string_view table, std::string_view partition,
                           std::string_view upload_id, int64_t block_id,
                           std::shared_ptr<const std::string> stream);
  // Commits `block_ids` after checking the server holds exactly those (so a lost block fails the
  // commit instead of silently dropping rows). Committing a committed session again succeeds.
  absl::StatusOr<SessionInfo> CommitUploadSession(std::string_view table,
                                                  std::string_view partition,
                                                  std::string_view upload_id,
                                                  std::vector<int64_t> block_ids);

  absl::StatusOr<SessionInfo> CreateDownloadSession(std::string_view table,
                                                    std::string_view partition);
  // Rows [start, start+count) as a record stream, verified and decompressed. With `columns`,
  // the stream holds those columns, in that order.
  absl::StatusOr<std::string> ReadRows(std::string_view table, std::string_view partition,
                                       std::string_view download_id, int64_t start, int64_t count,
                                       const std::vector<std::string>& columns = {});

 private:
  TunnelClient(TunnelClientOptions options, std::unique_ptr<maxcompute_client::HttpClient> http);
  absl::StatusOr<maxcompute_client::HttpResponse> Call(maxcompute_client::HttpRequest request,
                                                       std::string_view operation);
  maxcompute_client::HttpRequest Request(std::string method, std::string_view table,
                                         std::string_view partition) const;

  const TunnelClientOptions options_;
  std::unique_ptr<maxcompute_client::HttpClient> http_;
};

// Parses a session answer (§3.3 JSON). Public for tests.
absl::StatusOr<SessionInfo> ParseSessionJson(std::string_view body, bool download);

}  // namespace mcsink::tunnel
