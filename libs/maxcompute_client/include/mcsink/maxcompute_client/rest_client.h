// The MaxCompute metadata REST API (protocol §2) for one project: table schemas, partition lists,
// SQL instances (the only way to create partitions), and tunnel endpoint discovery (§3.1).
// Every request is signed per attempt with credentials from the provider (V4 when a region is
// configured, V2 otherwise) and carries `curr_project`, as the official SDKs send it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsink/maxcompute_client/http.h"
#include "mcsink/maxcompute_client/rest_protocol.h"

namespace mcsink::maxcompute_client {

struct RestClientOptions {
  // Service endpoint including its mount prefix, e.g.
  // `http://service.cn-hangzhou.maxcompute.aliyun.com/api`; the prefix is not signed (§1.2).
  std::string endpoint;
  std::string project;
  std::optional<std::string> region;  // set -> signature V4 with this region, else V2
  std::string user_agent = "mcsink/0.1";
  absl::Duration timeout = absl::Seconds(60);
  RetryPolicy retry;
  // SQL instances are polled at `sql_poll_interval`, doubling up to `sql_poll_max_interval`,
  // for at most `sql_timeout`.
  absl::Duration sql_poll_interval = absl::Milliseconds(500);
  absl::Duration sql_poll_max_interval = absl::Seconds(5);
  absl::Duration sql_timeout = absl::Minutes(10);
};

// A SQL instance that ran to its end, successfully or not.
struct SqlOutcome {
  std::string instance_id;
  InstanceStatusInfo status;  // terminated; `status.succeeded()` says whether every task did
  std::vector<TaskResultInfo> results;
  // The result columns' types (`string`, `bigint`, ...) when the server names them: mclocal
  // sends them in the `x-mclocal-column-types` header so a console can align numbers as the
  // MaxCompute client does; empty from the real service.
  std::vector<std::string> column_types;
};

class RestClient {
 public:
  static absl::StatusOr<std::unique_ptr<RestClient>> Create(
      RestClientOptions options, std::shared_ptr<CredentialsProvider> credentials);

  // `GET /projects/{p}[/schemas/{s}]/tables/{t}`; NotFound (code NoSuchTable) when missing.
  absl::StatusOr<TableInfo> GetTable(std::string_view table, std::string_view schema = "");

  // Every partition of `table`, following markers page by page (`page_size` per request).
  // `prefix_spec` (e.g. `pt=20260101`) restricts the list to matching partitions.
  absl::StatusOr<std::vector<PartitionInfo>> ListPartitions(std::string_view table,
                                                            std::string_view prefix_spec = "",
                                                            int page_size = 1000,
                                                            std::string_view schema = "");

  // `POST /projects/{p}/instances`; returns the instance id.
  absl::StatusOr<std::string> CreateSqlInstance(const SqlTask& task);
  // `GET .../instances/{id}?taskstatus`.
  absl::StatusOr<InstanceStatusInfo> GetInstanceStatus(std::string_view instance_id);
  // `GET .../instances/{id}?result`.
  absl::StatusOr<std::vector<TaskResultInfo>> GetInstanceResult(std::string_view instance_id);
  // Creates the instance and polls until it terminates. Returns the task results on success; on
  // failure an error holding the failed task's result text (e.g. `ODPS-0130071: ...`).
  absl::StatusOr<std::vector<TaskResultInfo>> RunSql(const SqlTask& task);
  // Creates the instance and polls until it terminates, like RunSql, but a failed task is not an
  // error: it is in the outcome, for a console that prints the task's own message. Errors are
  // the requests' and the timeout's.
  absl::StatusOr<SqlOutcome> ExecuteSql(const SqlTask& task);

  // `GET /projects/{p}/tunnel?service`: the tunnel endpoint as `scheme://host[:port]`, with the
  // scheme of the service endpoint.
  absl::StatusOr<std::string> GetTunnelEndpoint(std::string_view quota_name = "");

 private:
  RestClient(RestClientOptions options, std::unique_ptr<HttpClient> http);
  // Sends and maps any non-2xx answer to a status naming `operation`.
  absl::StatusOr<HttpResponse> Call(HttpRequest request, std::string_view operation);
  // `GET .../instances/{id}?result`, parsed, and the whole response for its headers.
  absl::StatusOr<std::pair<std::vector<TaskResultInfo>, HttpResponse>> FetchInstanceResult(
      std::string_view instance_id);
  std::string TablePath(std::string_view table, std::string_view schema) const;

  const RestClientOptions options_;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace mcsink::maxcompute_client
