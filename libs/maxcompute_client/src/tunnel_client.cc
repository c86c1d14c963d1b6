#include "mcsink/maxcompute_client/tunnel_client.h"

// cpprest's U() macro clashes with other code; utility::string_t is std::string on Linux.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "mcsink/common/status.h"
#include "mcsink/common/strings.h"
#include "mcsink/maxcompute_client/signing.h"

namespace mcsink::maxcompute_client {
namespace {

// J TunnelConstants.VERSION, P TUNNEL_VERSION (§3.2).
constexpr char kTunnelVersion[] = "6";

std::string JsonText(const web::json::value& object, const char* name) {
  if (!object.is_object() || !object.has_field(name)) return "";
  const web::json::value& v = object.at(name);
  if (v.is_string()) return v.as_string();
  if (v.is_null()) return "";
  return v.serialize();
}

std::optional<int64_t> JsonInt(const web::json::value& object, const char* name) {
  if (!object.is_object() || !object.has_field(name)) return std::nullopt;
  const web::json::value& v = object.at(name);
  if (v.is_number() && v.as_number().is_int64()) return v.as_number().to_int64();
  return std::nullopt;
}

absl::StatusOr<std::vector<ColumnInfo>> TunnelColumns(const web::json::value& schema,
                                                      const char* key) {
  std::vector<ColumnInfo> columns;
  if (!schema.is_object() || !schema.has_field(key) || schema.at(key).is_null()) return columns;
  if (!schema.at(key).is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("upload session Schema.", key, " is not an array"));
  }
  for (const web::json::value& c : schema.at(key).as_array()) {
    ColumnInfo column;
    column.name = JsonText(c, "name");
    column.type = JsonText(c, "type");
    column.comment = JsonText(c, "comment");
    // The tunnel schema says `nullable` (not `isNullable` as the table JSON does).
    if (c.has_field("nullable") && c.at("nullable").is_boolean()) {
      column.nullable = c.at("nullable").as_bool();
    }
    if (column.name.empty() || column.type.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("upload session Schema.", key, " entry ",
                                                     columns.size(), " lacks a name or type"));
    }
    columns.push_back(std::move(column));
  }
  return columns;
}

}  // namespace

absl::StatusOr<UploadSessionInfo> ParseUploadSessionJson(std::string_view body) {
  web::json::value root;
  try {
    root = web::json::value::parse(std::string(body));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("upload session response is not JSON (", e.what(), ")"));
  }
  if (!root.is_object())
    return absl::InvalidArgumentError("upload session response is not an object");
  UploadSessionInfo info;
  info.upload_id = JsonText(root, "UploadID");
  if (info.upload_id.empty()) {
    return absl::InvalidArgumentError("upload session response has no UploadID");
  }
  info.status = absl::AsciiStrToUpper(JsonText(root, "Status"));
  if (root.has_field("Schema")) {
    const web::json::value& schema = root.at("Schema");
    auto columns = TunnelColumns(schema, "columns");
    if (!columns.ok()) return columns.status();
    info.columns = *std::move(columns);
    auto keys = TunnelColumns(schema, "partitionKeys");
    if (!keys.ok()) return keys.status();
    info.partition_keys = *std::move(keys);
  }
  if (root.has_field("UploadedBlockList") && root.at("UploadedBlockList").is_array()) {
    for (const web::json::value& block : root.at("UploadedBlockList").as_array()) {
      const std::optional<int64_t> id = JsonInt(block, "BlockID");
      if (!id) return absl::InvalidArgumentError("UploadedBlockList entry without a BlockID");
      info.uploaded_block_ids.push_back(*id);
    }
    std::sort(info.uploaded_block_ids.begin(), info.uploaded_block_ids.end());
  }
  info.max_field_size = JsonInt(root, "MaxFieldSize");
  if (root.has_field("IsOverwrite") && root.at("IsOverwrite").is_boolean()) {
    info.overwrite = root.at("IsOverwrite").as_bool();
  }
  return info;
}

absl::StatusOr<std::unique_ptr<TunnelClient>> TunnelClient::Create(
    TunnelClientOptions options, std::shared_ptr<CredentialsProvider> credentials) {
  if (options.project.empty()) {
    return absl::InvalidArgumentError("TunnelClientOptions.project is empty: name the project");
  }
  if (!credentials) return absl::InvalidArgumentError("TunnelClient needs a credentials provider");
  HttpClientOptions http;
  http.base_url = options.endpoint;
  http.timeout = options.timeout;
  http.retry = options.retry;
  auto client = HttpClient::Create(std::move(http), MakeOdpsSigner(credentials, options.region));
  if (!client.ok()) return Annotate(client.status(), "MaxCompute tunnel endpoint");
  return std::unique_ptr<TunnelClient>(new TunnelClient(std::move(options), *std::move(client)));
}

TunnelClient::TunnelClient(TunnelClientOptions options, std::unique_ptr<HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)) {}

HttpRequest TunnelClient::NewRequest(std::string method, const UploadTarget& target) const {
  HttpRequest request;
  request.method = std::move(method);
  request.path = target.schema.empty()
                     ? absl::StrCat("/projects/", options_.project, "/tables/", target.table)
                     : absl::StrCat("/projects/", options_.project, "/schemas/", target.schema,
                                    "/tables/", target.table);
  request.headers = {{"x-odps-tunnel-version", kTunnelVersion},
                     {"x-odps-user-agent", options_.user_agent},
                     {"User-Agent", options_.user_agent}};
  return request;
}

absl::StatusOr<HttpResponse> TunnelClient::Call(HttpRequest request, std::string_view operation) {
  request.query.emplace_back("curr_project", options_.project);
  auto response = http_->Send(request);
  if (!response.ok()) return Annotate(response.status(), AsAbsl(operation));
  if (response->status < 200 || response->status > 299) {
    return MaxComputeErrorToStatus(*response, operation);
  }
  return response;
}

namespace {

void AddPartition(const UploadTarget& target, QueryParams* query) {
  // Tunnel calls take the spec unquoted (J: partitionSpec.toString().replaceAll("'", "")).
  if (!target.partition.empty()) {
    query->emplace_back("partition", absl::StrReplaceAll(target.partition, {{"'", ""}}));
  }
}

std::string Describe(const UploadTarget& target) {
  std::string out =
      target.schema.empty() ? target.table : absl::StrCat(target.schema, ".", target.table);
  if (!target.partition.empty()) absl::StrAppend(&out, " partition ", target.partition);
  return out;
}

}  // namespace

absl::StatusOr<UploadSessionInfo> TunnelClient::CreateUploadSession(const UploadTarget& target,
                                                                    bool overwrite) {
  HttpRequest request = NewRequest("POST", target);
  request.query.emplace_back("uploads", "");
  AddPartition(target, &request.query);
  if (overwrite) request.query.emplace_back("overwrite", "true");
  const std::string operation = absl::StrCat("create upload session for ", Describe(target));
  MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
  auto session = ParseUploadSessionJson(response.body);
  if (!session.ok()) return Annotate(session.status(), operation);
  return session;
}

absl::StatusOr<UploadSessionInfo> TunnelClient::GetUploadSession(const UploadTarget& target,
                                                                 std::string_view upload_id) {
  HttpRequest request = NewRequest("GET", target);
  request.query.emplace_back("uploadid", std::string(upload_id));
  AddPartition(target, &request.query);
  request.query.emplace_back("getblockid", "true");
  const std::string operation =
      absl::StrCat("reload upload session ", AsAbsl(upload_id), " of ", Describe(target));
  MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
  auto session = ParseUploadSessionJson(response.body);
  if (!session.ok()) return Annotate(session.status(), operation);
  return session;
}

absl::Status TunnelClient::UploadBlock(const UploadTarget& target, std::string_view upload_id,
                                       int64_t block_id, std::shared_ptr<const std::string> body,
                                       std::string_view content_encoding) {
  HttpRequest request = NewRequest("PUT", target);
  request.query.emplace_back("uploadid", std::string(upload_id));
  request.query.emplace_back("blockid", absl::StrCat(block_id));
  AddPartition(target, &request.query);
  request.headers.emplace_back("Content-Type", "application/octet-stream");
  if (!content_encoding.empty()) {
    request.headers.emplace_back("Content-Encoding", std::string(content_encoding));
  }
  request.body = std::move(body);
  const std::string operation = absl::StrCat("upload block ", block_id, " of session ",
                                             AsAbsl(upload_id), " for ", Describe(target));
  return Call(std::move(request), operation).status();
}

absl::StatusOr<UploadSessionInfo> TunnelClient::CommitUpload(
    const UploadTarget& target, std::string_view upload_id,
    const std::optional<std::vector<int64_t>>& expected_block_ids) {
  const std::string operation =
      absl::StrCat("commit upload session ", AsAbsl(upload_id), " of ", Describe(target));
  if (expected_block_ids) {
    MCSINK_ASSIGN_OR_RETURN(const UploadSessionInfo current, GetUploadSession(target, upload_id));
    std::vector<int64_t> expected = *expected_block_ids;
    std::sort(expected.begin(), expected.end());
    expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
    if (expected != current.uploaded_block_ids) {
      std::vector<int64_t> missing;
      std::vector<int64_t> unexpected;
      std::set_difference(expected.begin(), expected.end(), current.uploaded_block_ids.begin(),
                          current.uploaded_block_ids.end(), std::back_inserter(missing));
      std::set_difference(current.uploaded_block_ids.begin(), current.uploaded_block_ids.end(),
                          expected.begin(), expected.end(), std::back_inserter(unexpected));
      return absl::FailedPreconditionError(absl::StrCat(
          operation, ": blocks do not match; missing on the server [", absl::StrJoin(missing, ","),
          "], unexpected on the server [", absl::StrJoin(unexpected, ","),
          "]; re-upload the missing blocks before committing"));
    }
  }
  HttpRequest request = NewRequest("POST", target);
  request.query.emplace_back("uploadid", std::string(upload_id));
  AddPartition(target, &request.query);
  MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
  auto session = ParseUploadSessionJson(response.body);
  if (!session.ok()) return Annotate(session.status(), operation);
  return session;
}

absl::StatusOr<DownloadSessionInfo> ParseDownloadSessionJson(std::string_view body) {
  web::json::value root;
  try {
    root = web::json::value::parse(std::string(body));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("download session response is not JSON (", e.what(), ")"));
  }
  DownloadSessionInfo info;
  info.download_id = JsonText(root, "DownloadID");
  if (info.download_id.empty()) {
    return absl::InvalidArgumentError("download session response has no DownloadID");
  }
  info.status = absl::AsciiStrToUpper(JsonText(root, "Status"));
  info.record_count = JsonInt(root, "RecordCount").value_or(0);
  if (root.has_field("Schema")) {
    MCSINK_ASSIGN_OR_RETURN(info.columns, TunnelColumns(root.at("Schema"), "columns"));
    MCSINK_ASSIGN_OR_RETURN(info.partition_keys, TunnelColumns(root.at("Schema"), "partitionKeys"));
  }
  return info;
}

absl::StatusOr<DownloadSessionInfo> TunnelClient::CreateDownloadSession(
    const UploadTarget& target) {
  HttpRequest request = NewRequest("POST", target);
  request.query.emplace_back("downloads", "");
  AddPartition(target, &request.query);
  const std::string operation = absl::StrCat("create download session for ", Describe(target));
  MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
  auto session = ParseDownloadSessionJson(response.body);
  if (!session.ok()) return Annotate(session.status(), operation);
  for (int attempt = 0; session->status == "INITIATING" && attempt < 600; ++attempt) {
    absl::SleepFor(absl::Milliseconds(100));
    HttpRequest reload = NewRequest("GET", target);
    reload.query.emplace_back("downloadid", session->download_id);
    AddPartition(target, &reload.query);
    MCSINK_ASSIGN_OR_RETURN(const HttpResponse again, Call(std::move(reload), operation));
    session = ParseDownloadSessionJson(again.body);
    if (!session.ok()) return Annotate(session.status(), operation);
  }
  return session;
}

absl::StatusOr<DownloadedRows> TunnelClient::ReadRows(const UploadTarget& target,
                                                      std::string_view download_id, int64_t start,
                                                      int64_t count,
                                                      const std::vector<std::string>& columns) {
  HttpRequest request = NewRequest("GET", target);
  request.query.emplace_back("downloadid", std::string(download_id));
  request.query.emplace_back("data", "");
  request.query.emplace_back("rowrange", absl::StrCat("(", start, ",", count, ")"));
  if (!columns.empty()) request.query.emplace_back("columns", absl::StrJoin(columns, ","));
  AddPartition(target, &request.query);
  request.headers.emplace_back("Accept-Encoding", "deflate");
  const std::string operation = absl::StrCat("read rows ", start, "+", count, " of session ",
                                             AsAbsl(download_id), " for ", Describe(target));
  MCSINK_ASSIGN_OR_RETURN(HttpResponse response, Call(std::move(request), operation));
  DownloadedRows rows;
  rows.content_encoding = std::string(response.Header("Content-Encoding").value_or(""));
  rows.body = std::move(response.body);
  return rows;
}

absl::StatusOr<StreamSessionInfo> ParseStreamSessionJson(std::string_view body) {
  web::json::value root;
  try {
    root = web::json::value::parse(std::string(body));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream session response is not JSON (", e.what(), ")"));
  }
  StreamSessionInfo info;
  info.session_name = JsonText(root, "session_name");
  if (info.session_name.empty()) {
    return absl::InvalidArgumentError("stream session response has no session_name");
  }
  info.status = absl::AsciiStrToUpper(JsonText(root, "status"));
  if (root.has_field("slots") && root.at("slots").is_array()) {
    for (const web::json::value& slot : root.at("slots").as_array()) {
      // Each slot is [id, "ip:port"] (J Util.parseSlots).
      if (!slot.is_array() || slot.size() != 2) {
        return absl::InvalidArgumentError("stream session slot is not [id, address]");
      }
      const auto text = [](const web::json::value& v) {
        return v.is_string() ? v.as_string() : v.serialize();
      };
      info.slots.emplace_back(text(slot.at(0)), text(slot.at(1)));
    }
  }
  if (info.slots.empty()) return absl::InvalidArgumentError("stream session has no slots");
  if (root.has_field("schema")) {
    MCSINK_ASSIGN_OR_RETURN(info.columns, TunnelColumns(root.at("schema"), "columns"));
    MCSINK_ASSIGN_OR_RETURN(info.partition_keys, TunnelColumns(root.at("schema"), "partitionKeys"));
  }
  return info;
}

absl::StatusOr<StreamSessionInfo> TunnelClient::CreateStreamSession(const UploadTarget& target,
                                                                    bool create_partition) {
  HttpRequest request = NewRequest("POST", target);
  request.path += "/streams";
  AddPartition(target, &request.query);
  if (create_partition) request.query.emplace_back("create_partition", "");
  const std::string operation = absl::StrCat("create stream session for ", Describe(target));
  MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
  auto session = ParseStreamSessionJson(response.body);
  if (!session.ok()) return Annotate(session.status(), operation);
  if (session->status == "INIT") {
    return absl::UnavailableError(absl::StrCat(operation, ": the session is still initiating"));
  }
  return session;
}

absl::Status TunnelClient::WriteStreamPack(const UploadTarget& target,
                                           const StreamSessionInfo& session,
                                           std::shared_ptr<const std::string> pack,
                                           int64_t record_count,
                                           std::string_view content_encoding) {
  const auto& [slot_id, slot_server] = session.slots[next_slot_++ % session.slots.size()];
  HttpRequest request = NewRequest("PUT", target);
  request.path += "/streams";
  request.query.emplace_back("uploadid", session.session_name);
  request.query.emplace_back("slotid", slot_id);
  AddPartition(target, &request.query);
  request.query.emplace_back("record_count", absl::StrCat(record_count));
  request.headers.emplace_back("Content-Type", "application/octet-stream");
  request.headers.emplace_back("odps-tunnel-slot-num", absl::StrCat(session.slots.size()));
  request.headers.emplace_back("odps-tunnel-routed-server", slot_server);
  if (!content_encoding.empty()) {
    request.headers.emplace_back("Content-Encoding", std::string(content_encoding));
  }
  request.body = std::move(pack);
  const std::string operation =
      absl::StrCat("write a pack of ", record_count, " records to stream ", session.session_name,
                   " for ", Describe(target));
  MCSINK_ASSIGN_OR_RETURN(const HttpResponse response, Call(std::move(request), operation));
  // The Java SDK requires these on every answer (it reloads when the slot count changes).
  if (!response.Header("odps-tunnel-slot-num").has_value()) {
    return absl::DataLossError(
        absl::StrCat(operation, ": the answer lacks the odps-tunnel-slot-num header"));
  }
  return absl::OkStatus();
}

}  // namespace mcsink::maxcompute_client
