// The Tunnel batch-upload protocol (protocol §3.3-3.5) for one project: create an upload session,
// PUT blocks (each one complete, already-encoded record stream), reload the session to see which
// blocks the server holds, and commit. Record encoding and compression are the caller's job; the
// block body is shared, not copied, across retries.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsink/maxcompute_client/http.h"
#include "mcsink/maxcompute_client/rest_protocol.h"

namespace mcsink::maxcompute_client {

// The session JSON returned by create, reload and commit (§3.3).
struct UploadSessionInfo {
  std::string upload_id;
  std::string status;               // upper case: NORMAL, CLOSING, CLOSED, COMMITTING, EXPIRED, ...
  std::vector<ColumnInfo> columns;  // data columns in record-stream order (field n = column n-1)
  std::vector<ColumnInfo> partition_keys;
  std::vector<int64_t> uploaded_block_ids;  // sorted
  std::optional<int64_t> max_field_size;    // per-cell byte limit
  bool overwrite = false;
};
absl::StatusOr<UploadSessionInfo> ParseUploadSessionJson(std::string_view body);

// The session JSON of a download session (§5).
struct DownloadSessionInfo {
  std::string download_id;
  std::string status;  // upper case; INITIATING while the server prepares it
  int64_t record_count = 0;
  std::vector<ColumnInfo> columns;
  std::vector<ColumnInfo> partition_keys;
};
absl::StatusOr<DownloadSessionInfo> ParseDownloadSessionJson(std::string_view body);

// A block of downloaded rows: one record stream, compressed as `content_encoding` says
// (empty: not compressed). Decode it with libs/maxcompute (Decompress, RecordStreamReader).
struct DownloadedRows {
  std::string body;
  std::string content_encoding;
};

// A stream upload session (§4.1): packs become visible as their PUT succeeds; no blocks, no
// commit. Writes go round-robin over the session's slots.
struct StreamSessionInfo {
  std::string session_name;
  std::string status;                                      // upper case
  std::vector<std::pair<std::string, std::string>> slots;  // (slot id, ip:port)
  std::vector<ColumnInfo> columns;
  std::vector<ColumnInfo> partition_keys;
};
absl::StatusOr<StreamSessionInfo> ParseStreamSessionJson(std::string_view body);

struct TunnelClientOptions {
  // Tunnel endpoint `scheme://host[:port]` (RestClient::GetTunnelEndpoint, or configured).
  std::string endpoint;
  std::string project;
  std::optional<std::string> region;  // set -> signature V4, else V2
  std::string user_agent = "mcsink/0.1";
  absl::Duration timeout = absl::Seconds(120);
  RetryPolicy retry;
};

// Where a session writes: a table (optionally in a schema) and, for partitioned tables, the
// complete partition spec `pt=20260101,region=hz` (quotes are removed, as J does).
struct UploadTarget {
  std::string table;
  std::string partition;
  std::string schema;
};

class TunnelClient {
 public:
  static absl::StatusOr<std::unique_ptr<TunnelClient>> Create(
      TunnelClientOptions options, std::shared_ptr<CredentialsProvider> credentials);

  // `POST ...?uploads[&partition=][&overwrite=true]`.
  absl::StatusOr<UploadSessionInfo> CreateUploadSession(const UploadTarget& target,
                                                        bool overwrite = false);
  // `GET ...?uploadid=<id>&getblockid=true`: the session's status and the blocks it holds.
  absl::StatusOr<UploadSessionInfo> GetUploadSession(const UploadTarget& target,
                                                     std::string_view upload_id);
  // `PUT ...?uploadid=<id>&blockid=<n>`. `body` is one complete record stream, compressed as a
  // whole when `content_encoding` is set (`deflate`, `x-snappy-framed`, ...). Re-putting a block
  // id replaces that block.
  absl::Status UploadBlock(const UploadTarget& target, std::string_view upload_id, int64_t block_id,
                           std::shared_ptr<const std::string> body,
                           std::string_view content_encoding = "");
  // `POST ...?uploadid=<id>`. When `expected_block_ids` is given, first reloads the session and
  // fails with FailedPrecondition (naming missing and unexpected ids) unless the server holds
  // exactly those blocks, as J and pyodps do before committing.
  absl::StatusOr<UploadSessionInfo> CommitUpload(
      const UploadTarget& target, std::string_view upload_id,
      const std::optional<std::vector<int64_t>>& expected_block_ids = std::nullopt);

  // `POST .../streams[?partition=][&create_partition]`: a stream upload session.
  absl::StatusOr<StreamSessionInfo> CreateStreamSession(const UploadTarget& target,
                                                        bool create_partition = true);
  // `PUT .../streams?uploadid=&slotid=&record_count=`: one pack (a complete record stream of
  // `record_count` records, compressed as `content_encoding` says), on the slot after the one
  // used last. Visible once this returns OK.
  absl::Status WriteStreamPack(const UploadTarget& target, const StreamSessionInfo& session,
                               std::shared_ptr<const std::string> pack, int64_t record_count,
                               std::string_view content_encoding = "");

  // `POST ...?downloads[&partition=]`, reloaded until it is no longer INITIATING.
  absl::StatusOr<DownloadSessionInfo> CreateDownloadSession(const UploadTarget& target);
  // `GET ...?downloadid=<id>&data&rowrange=(start,count)[&columns=a,b]`, asking for deflate.
  // With `columns`, the stream's field numbers are positions in that list.
  absl::StatusOr<DownloadedRows> ReadRows(const UploadTarget& target, std::string_view download_id,
                                          int64_t start, int64_t count,
                                          const std::vector<std::string>& columns = {});

 private:
  TunnelClient(TunnelClientOptions options, std::unique_ptr<HttpClient> http);
  HttpRequest NewRequest(std::string method, const UploadTarget& target) const;
  absl::StatusOr<HttpResponse> Call(HttpRequest request, std::string_view operation);

  const TunnelClientOptions options_;
  std::unique_ptr<HttpClient> http_;
  std::atomic<uint64_t> next_slot_{0};
};

}  // namespace mcsink::maxcompute_client
