// Bodies of the MaxCompute metadata REST API (protocol §2): parsers for what the service returns,
// builders for what the client sends, and the mapping of error responses to absl::Status.
// Pure functions over strings, so they are tested on canned bodies without a server.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mcsink/maxcompute_client/http.h"

namespace mcsink::maxcompute_client {

// A column as the table JSON describes it. `type` is MaxCompute's type text (`BIGINT`,
// `DECIMAL(10,2)`, `ARRAY<INT>`, ...); mcsink::maxcompute::Type::Parse interprets it.
struct ColumnInfo {
  std::string name;
  std::string type;
  bool nullable = true;
  std::string comment;
  bool operator==(const ColumnInfo&) const = default;
};

// `GET /projects/{p}/tables/{t}` (§2.1).
struct TableInfo {
  std::string project;
  std::string schema_name;  // empty unless the project uses schemas
  std::string name;
  std::string table_id;
  std::string type;  // MANAGED_TABLE, VIRTUAL_VIEW, EXTERNAL_TABLE, ...
  std::string owner;
  std::string comment;
  std::vector<ColumnInfo> columns;
  std::vector<ColumnInfo> partition_keys;
  bool transactional = false;            // from Reserved.Transactional
  std::vector<std::string> primary_key;  // from Reserved.PrimaryKey
  std::optional<int64_t> lifecycle_days;
};
absl::StatusOr<TableInfo> ParseTableXml(std::string_view body);

// One partition of `GET ...?partitions` (§2.2).
struct PartitionInfo {
  std::vector<std::pair<std::string, std::string>> values;  // in key order: {{"pt","20260101"}}
  std::optional<int64_t> creation_time;                     // epoch seconds
  std::optional<int64_t> last_modified_time;
  std::optional<int64_t> size_bytes;
  std::optional<int64_t> record_count;

  // `pt=20260101,region=hz`, the unquoted form tunnel calls take.
  std::string Spec() const;
};
struct PartitionPage {
  std::vector<PartitionInfo> partitions;
  std::string marker;  // empty on the last page
};
absl::StatusOr<PartitionPage> ParsePartitionsXml(std::string_view body);

// A SQL job to submit as an instance (§2.3).
struct SqlTask {
  std::string query;  // `;` is appended when missing
  std::string task_name = "AnonymousSQLTask";
  int priority = 9;
  std::map<std::string, std::string> settings;  // sent as the `settings` JSON property
  std::string guid;                             // sent as `uuid`; generated when empty
};
std::string BuildSqlInstanceXml(const SqlTask& task);
// The instance id from a `Location` header: the text after the last `/`.
absl::StatusOr<std::string> InstanceIdFromLocation(std::string_view location);

struct TaskStatusInfo {
  std::string name;
  std::string type;    // SQL
  std::string status;  // upper case: WAITING, RUNNING, SUCCESS, FAILED, SUSPENDED, CANCELLED
};
struct InstanceStatusInfo {
  std::string status;  // upper case: RUNNING, SUSPENDED, TERMINATED
  std::vector<TaskStatusInfo> tasks;

  bool terminated() const { return status == "TERMINATED"; }
  // Terminated with every task SUCCESS.
  bool succeeded() const;
};
// `GET .../instances/{id}` and `GET .../instances/{id}?taskstatus`.
absl::StatusOr<InstanceStatusInfo> ParseInstanceStatusXml(std::string_view body);

struct TaskResultInfo {
  std::string name;
  std::string status;  // upper case
  std::string format;  // text, csv
  std::string text;    // base64-decoded when Transform="Base64"
};
// `GET .../instances/{id}?result`.
absl::StatusOr<std::vector<TaskResultInfo>> ParseInstanceResultXml(std::string_view body);

// The error of a non-2xx response (§2.5): XML <Error><Code/><Message/><RequestId/></Error>, else
// JSON with the same keys (tunnel errors), else the raw start of the body. The request id falls
// back to the `x-odps-request-id` header. The HTTP status picks the code (404 NotFound, 400
// InvalidArgument, 401/403 PermissionDenied, 409 AlreadyExists or Unavailable with Retry-After,
// 429 ResourceExhausted, 501 Unimplemented, 5xx Unavailable, other 4xx FailedPrecondition), and
// the MaxCompute error code is also attached as a payload (see MaxComputeErrorCode).
absl::Status MaxComputeErrorToStatus(const HttpResponse& response, std::string_view operation);
// The MaxCompute error code (`NoSuchTable`, `ODPS-0130071`, ...) attached by
// MaxComputeErrorToStatus, or nullopt.
std::optional<std::string> MaxComputeErrorCode(const absl::Status& status);

}  // namespace mcsink::maxcompute_client
