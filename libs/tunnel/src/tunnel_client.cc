#include "mcsink/tunnel/tunnel_client.h"

#include <algorithm>

#include <simdjson.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mcsink/common/status.h"
#include "mcsink/common/strings.h"
#include "mcsink/maxcompute_client/rest_protocol.h"
#include "mcsink/maxcompute_client/signing.h"

namespace mcsink::tunnel {
namespace {

using maxcompute_client::HttpRequest;
using maxcompute_client::HttpResponse;
using maxcompute_client::SetHeader;

// Reads the columns of a Schema object ({"columns": [...], "partitionKeys": [...]}).
absl::Status ParseColumns(simdjson::dom::element array, std::vector<maxcompute::Column>* out) {
  simdjson::dom::array columns;
  if (array.get_array().get(columns)) return absl::OkStatus();
  for (simdjson::dom::element column : columns) {
    std::string_view name;
    std::string_view type;
    if (column["name"].get_string().get(name) || column["type"].get_string().get(type)) {
      return absl::InvalidArgumentError("tunnel session schema: a column lacks name or type");
    }
    auto parsed = maxcompute::Type::Parse(std::string(type));
    if (!parsed.ok()) return parsed.status();
    bool nullable = true;
    if (column["nullable"].get_bool().get(nullable)) nullable = true;  // absent: nullable
    out->push_back({std::string(name), *parsed, nullable});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SessionInfo> ParseSessionJson(std::string_view body, bool download) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root)) {
    return absl::DataLossError(
        absl::StrCat("tunnel session answer is not JSON: ", AsAbsl(body.substr(0, 200))));
  }
  SessionInfo info;
  std::string_view text;
  if (root[download ? "DownloadID" : "UploadID"].get_string().get(text)) {
    return absl::DataLossError(
        absl::StrCat("tunnel session answer has no ", download ? "DownloadID" : "UploadID"));
  }
  info.id = std::string(text);
  if (!root["Status"].get_string().get(text)) {
    info.status = absl::AsciiStrToUpper(std::string(text));
  }
  simdjson::dom::element schema;
  if (!root["Schema"].get(schema)) {
    simdjson::dom::element columns;
    if (!schema["columns"].get(columns)) {
      MCSINK_RETURN_IF_ERROR(ParseColumns(columns, &info.schema.columns));
    }
    simdjson::dom::element keys;
    if (!schema["partitionKeys"].get(keys)) {
      MCSINK_RETURN_IF_ERROR(ParseColumns(keys, &info.schema.partition_columns));
    }
  }
  simdjson::dom::array blocks;
  if (!root["UploadedBlockList"].get_array().get(blocks)) {
    for (simdjson::dom::element block : blocks) {
      int64_t id = 0;
      if (!block["BlockID"].get_int64().get(id)) info.block_ids.push_back(id);
    }
    std::sort(info.block_ids.begin(), info.block_ids.end());
  }
  int64_t count = 0;
  if (!root["RecordCount"].get_int64().get(count)) info.record_count = count;
  return info;
}

absl::StatusOr<std::unique_ptr<TunnelClient>> TunnelClient::Create(
    TunnelClientOptions options,
    std::shared_ptr<maxcompute_client::CredentialsProvider> credentials) {
  if (!credentials) return absl::InvalidArgumentError("TunnelClient needs a credentials provider");
  maxcompute_client::HttpClientOptions http;
  http.base_url = options.endpoint;
  http.timeout = options.timeout;
  http.retry = options.retry;
  const std::optional<std::string> region = options.region;
  // Signed per attempt so Date is fresh and rotated STS credentials are picked up on retries.
  auto signer = [credentials, region](HttpRequest* attempt) -> absl::Status {
    MCSINK_ASSIGN_OR_RETURN(const maxcompute_client::Credentials current, credentials->Get());
    maxcompute_client::SignRequest(attempt->method, attempt->path, attempt->query,
                                   &attempt->headers, current, absl::Now(), region);
    return absl::OkStatus();
  };
  auto client = maxcompute_client::HttpClient::Create(std::move(http), std::move(signer));
  if (!client.ok()) return Annotate(client.status(), "MaxCompute tunnel endpoint");
  return std::unique_ptr<TunnelClient>(new TunnelClient(std::move(options), *std::move(client)));
}

TunnelClient::TunnelClient(TunnelClientOptions options,
                           std::unique_ptr<maxcompute_client::HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)) {}

HttpRequest TunnelClient::Request(std::string method, std::string_view table,
                                  std::string_view partition) const {
  HttpRequest r;
  r.method = std::move(method);
  r.path = absl::StrCat("/projects/", options_.project, "/tables/", AsAbsl(table));
  if (!partition.empty()) r.query.emplace_back("partition", std::string(partition));
  SetHeader(&r.headers, "x-odps-tunnel-version", "6");
  SetHeader(&r.headers, "odps-tunnel-date-transform", "v1");
  SetHeader(&r.headers, "odps-tunnel-sdk-support-schema-evolution", "true");
  return r;
}

absl::StatusOr<HttpResponse> TunnelClient::Call(HttpRequest request, std::string_view operation) {
  MCSINK_ASSIGN_OR_RETURN(HttpResponse response, http_->Send(request));
  if (response.status / 100 != 2) {
    return maxcompute_client::MaxComputeErrorToStatus(response, operation);
  }
  return response;
}

absl::StatusOr<SessionInfo> TunnelClient::CreateUploadSession(std::string_view table,
                                                              std::string_view partition) {
  HttpRequest r = Request("POST", table, partition);
  r.query.emplace_back("uploads", "");
  SetHeader(&r.headers, "Content-Length", "0");
  MCSINK_ASSIGN_OR_RETURN(HttpResponse response,
                          Call(std::move(r), absl::StrCat("create upload session on ",
                                                          AsAbsl(table), " ", AsAbsl(partition))));
  return ParseSessionJson(response.body, /*download=*/false);
}

absl::StatusOr<SessionInfo> TunnelClient::GetUploadSession(std::string_view table,
                                                           std::string_view partition,
                                                           std::string_view upload_id) {
  HttpRequest r = Request("GET", table, partition);
  r.query.emplace_back("uploadid", std::string(upload_id));
  r.query.emplace_back("getblockid", "true");
  MCSINK_ASSIGN_OR_RETURN(
      HttpResponse response,
      Call(std::move(r), absl::StrCat("reload upload session ", AsAbsl(upload_id))));
  return ParseSessionJson(response.body, /*download=*/false);
}

absl::Status TunnelClient::UploadBlock(std::string_view table, std::string_view partition,
                                       std::string_view upload_id, int64_t block_id,
                                       std::shared_ptr<const std::string> stream) {
  if (block_id < 0 || block_id >= 20000) {
    return absl::InvalidArgumentError(
        absl::StrCat("block id ", block_id, " is outside 0..19999 (20000 blocks per session)"));
  }
  HttpRequest r = Request("PUT", table, partition);
  r.query.emplace_back("uploadid", std::string(upload_id));
  r.query.emplace_back("blockid", absl::StrCat(block_id));
  SetHeader(&r.headers, "Content-Type", "application/octet-stream");
  if (options_.compression == maxcompute::Compression::kNone) {
    r.body = std::move(stream);
  } else {
    MCSINK_ASSIGN_OR_RETURN(std::string compressed,
                            maxcompute::Compress(options_.compression, *stream));
    SetHeader(&r.headers, "Content-Encoding",
              std::string(maxcompute::ContentEncodingOf(options_.compression)));
    r.SetBody(std::move(compressed));
  }
  return Call(std::move(r),
              absl::StrCat("upload block ", block_id, " of session ", AsAbsl(upload_id)))
      .status();
}

absl::StatusOr<SessionInfo> TunnelClient::CommitUploadSession(std::string_view table,
                                                              std::string_view partition,
                                                              std::string_view upload_id,
                                                              std::vector<int64_t> block_ids) {
  MCSINK_ASSIGN_OR_RETURN(SessionInfo current, GetUploadSession(table, partition, upload_id));
  std::sort(block_ids.begin(), block_ids.end());
  // A committed session answers with its final state; committing it again is idempotent.
  if (current.status != "CLOSED" && current.block_ids != block_ids) {
    return absl::FailedPreconditionError(
        absl::StrCat("blocks do not match in session ", AsAbsl(upload_id), ": the server holds [",
                     absl::StrJoin(current.block_ids, ","), "] but the writer sent [",
                     absl::StrJoin(block_ids, ","), "]"));
  }
  HttpRequest r = Request("POST", table, partition);
  r.query.emplace_back("uploadid", std::string(upload_id));
  SetHeader(&r.headers, "Content-Length", "0");
  MCSINK_ASSIGN_OR_RETURN(HttpResponse response,
                          Call(std::move(r), absl::StrCat("commit session ", AsAbsl(upload_id))));
  return ParseSessionJson(response.body, /*download=*/false);
}

absl::StatusOr<SessionInfo> TunnelClient::CreateDownloadSession(std::string_view table,
                                                                std::string_view partition) {
  HttpRequest r = Request("POST", table, partition);
  r.query.emplace_back("downloads", "");
  SetHeader(&r.headers, "Content-Length", "0");
  MCSINK_ASSIGN_OR_RETURN(HttpResponse response,
                          Call(std::move(r), absl::StrCat("create download session on ",
                                                          AsAbsl(table), " ", AsAbsl(partition))));
  return ParseSessionJson(response.body, /*download=*/true);
}

absl::StatusOr<std::string> TunnelClient::ReadRows(std::string_view table,
                                                   std::string_view partition,
                                                   std::string_view download_id, int64_t start,
                                                   int64_t count,
                                                   const std::vector<std::string>& columns) {
  HttpRequest r = Request("GET", table, partition);
  r.query.emplace_back("downloadid", std::string(download_id));
  r.query.emplace_back("data", "");
  r.query.emplace_back("rowrange", absl::StrCat("(", start, ",", count, ")"));
  if (!columns.empty()) r.query.emplace_back("columns", absl::StrJoin(columns, ","));
  SetHeader(&r.headers, "Accept-Encoding", "deflate");
  MCSINK_ASSIGN_OR_RETURN(
      HttpResponse response,
      Call(std::move(r), absl::StrCat("read rows of session ", AsAbsl(download_id))));
  const auto encoding = response.Header("Content-Encoding");
  const std::optional<maxcompute::Compression> compression =
      maxcompute::ParseContentEncoding(encoding.value_or(""));
  if (!compression.has_value()) {
    return absl::UnimplementedError(absl::StrCat("download answered with Content-Encoding ",
                                                 AsAbsl(*encoding), ", not deflate"));
  }
  if (*compression == maxcompute::Compression::kNone) return std::move(response.body);
  return maxcompute::Decompress(*compression, response.body, /*max_output_bytes=*/1u << 30);
}

}  // namespace mcsink::tunnel
